"""Environment locks in the DynamoDB journal's table: compare-and-set on one item per lock.

    pk="lock"  sk=<environment>  owner, token, acquired_at, lock_expires_at (ISO 8601 UTC)

Taking a lock reads the item, decides as the SQLite store does (free; expired by the store's
clock; its holder's process dead on this host; or `take_over`), then writes the new lock on
the condition that the item is still what was read (absent, or the same token), in the same
transaction as its journal record. Of racing callers exactly one commits; the others read
again and find it held. Refresh and release are conditional on our token.

The expiry is deliberately not the table's TTL attribute (`expires_at`): TTL deletes by AWS's
clock, and whether a lock has expired is the store's clock's to say (a simulated or a skewed
one included); an expired lock item is simply taken over.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from fleetpatch.errors import UserError
from fleetpatch.journal.aws_errors import explained
from fleetpatch.journal.chain import format_timestamp
from fleetpatch.journal.dynamodb_chain import MAX_ATTEMPTS, ChainWriter, ConditionFailed
from fleetpatch.journal.dynamodb_items import LOCK_PK, Item, attribute, key, plain
from fleetpatch.journal.model import (
    Entry,
    EntryKind,
    Lock,
    LockLost,
    NewEntry,
    lock_acquisition,
)


class DynamoDbLocks:
    def __init__(self, writer: ChainWriter) -> None:
        self._writer = writer

    def acquire(
        self, environment: str, owner: str, ttl: timedelta, *, take_over: str | None = None
    ) -> Lock:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        for _ in range(MAX_ATTEMPTS):
            held = self._writer.get(LOCK_PK, environment)
            now = self._writer.now()
            holder = (
                (
                    str(plain(held.get("owner"))),
                    datetime.fromisoformat(str(plain(held.get("lock_expires_at")))),
                )
                if held is not None
                else None
            )
            details = lock_acquisition(environment, owner, holder, now, take_over)
            lock = Lock(
                environment=environment,
                owner=owner,
                token=uuid.uuid4().hex,
                acquired_at=now,
                expires_at=now + ttl,
                ttl=ttl,
            )
            details["expires_at"] = format_timestamp(lock.expires_at)
            record = NewEntry(kind=EntryKind.LOCK, environment=environment, details=details)
            put = [self._put(lock, held)]
            try:
                self._writer.commit(record, _fixed(put))
            except ConditionFailed:
                continue  # someone else took or changed it meanwhile: read it again
            return lock
        raise UserError(f"environment '{environment}': the lock kept changing; try again")

    def release(self, lock: Lock) -> None:
        def delete(entry: Entry) -> list[Item]:
            return [
                {
                    "Delete": {
                        "TableName": self._writer.table,
                        "Key": key(LOCK_PK, lock.environment),
                        **_token_is(lock.token),
                    }
                }
            ]

        details = {"action": "released", "owner": lock.owner}
        record = NewEntry(kind=EntryKind.LOCK, environment=lock.environment, details=details)
        try:
            self._writer.commit(record, delete)
        except ConditionFailed:
            return  # not ours any more (or released already): nothing to release, nothing to say

    def refresh(self, lock: Lock) -> Lock:
        refreshed = dataclasses.replace(lock, expires_at=self._writer.now() + lock.ttl)
        condition = _token_is(lock.token)
        try:
            with explained(self._writer.resource):
                self._writer.dynamodb.update_item(
                    TableName=self._writer.table,
                    Key=key(LOCK_PK, lock.environment),
                    UpdateExpression="SET #exp = :exp",
                    ConditionExpression=condition["ConditionExpression"],
                    ExpressionAttributeNames={
                        **condition["ExpressionAttributeNames"],
                        "#exp": "lock_expires_at",
                    },
                    ExpressionAttributeValues={
                        **condition["ExpressionAttributeValues"],
                        ":exp": attribute(format_timestamp(refreshed.expires_at)),
                    },
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            held = self._writer.get(LOCK_PK, lock.environment)
            raise LockLost(lock, plain(held.get("owner")) if held else None) from None
        return refreshed

    def _put(self, lock: Lock, held: Item | None) -> Item:
        item = {
            **key(LOCK_PK, lock.environment),
            "owner": attribute(lock.owner),
            "token": attribute(lock.token),
            "acquired_at": attribute(format_timestamp(lock.acquired_at)),
            "lock_expires_at": attribute(format_timestamp(lock.expires_at)),
        }
        if held is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = _token_is(str(plain(held.get("token"))))
        return {"Put": {"TableName": self._writer.table, "Item": item, **condition}}


def _fixed(items: list[Item]) -> Callable[[Entry], list[Item]]:
    """Extras that don't depend on the record's seq."""
    return lambda entry: items


def _token_is(token: str) -> dict[str, Any]:
    return {
        "ConditionExpression": "#token = :token",
        "ExpressionAttributeNames": {"#token": "token"},
        "ExpressionAttributeValues": {":token": attribute(token)},
    }
