"""`ChainWriter`: appends to the DynamoDB journal's hash chain, one transaction per record.

Each append is one TransactWriteItems of:
  0. Put the record at `entry#<seq>`, if no item is there (attribute_not_exists);
  1. Put the head, if it still says what we read (seq and hash), or if there is none yet;
  2. ConditionCheck that the record the head names still exists with that hash (an
     attacker's truncated tail is not silently extended, as SQLite refuses it too);
  3+ the caller's own items (a lock, a state machine's state), with their conditions.
Of concurrent writers that read the same head exactly one commits; a loser re-reads the head
and tries again, with a new seq, up to MAX_ATTEMPTS times: the chain never forks and no seq
is lost or written twice. botocore fills ClientRequestToken, so its own retry of a request
whose answer was lost is answered idempotently, not appended twice.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from fleetpatch.errors import UserError
from fleetpatch.journal.anchor import ChainAnchors
from fleetpatch.journal.aws_errors import Resource, explained
from fleetpatch.journal.chain import entry_to_record, record_hash
from fleetpatch.journal.dynamodb_items import (
    HEAD_SK,
    JOURNAL_PK,
    Item,
    attribute,
    entry_item,
    entry_sk,
    head_of,
    key,
)
from fleetpatch.journal.model import GENESIS_HASH, Entry, JournalCorrupt, NewEntry

# Each round of a race commits one writer: enough for dozens of concurrent writers.
MAX_ATTEMPTS = 40
_ENTRY, _HEAD, _PREVIOUS = 0, 1, 2


class ConditionFailed(Exception):
    """One of the caller's own items failed its condition (index into the caller's items)."""

    def __init__(self, index: int) -> None:
        super().__init__(f"condition of item {index} failed")
        self.index = index


class ChainWriter:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        resource: Resource,
        anchors: ChainAnchors,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.resource = resource
        self.anchors = anchors
        self._clock = clock
        self._sleep = sleep
        # Set at open when the newest anchor is past the table's head: never extend a cut chain.
        self.refusal: str | None = None

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def get(self, pk: str, sk: str) -> Item | None:
        with explained(self.resource):
            answer = self.dynamodb.get_item(
                TableName=self.table, Key=key(pk, sk), ConsistentRead=True
            )
        item: Item | None = answer.get("Item")
        return item

    def head(self) -> tuple[int, str] | None:
        return head_of(self.get(JOURNAL_PK, HEAD_SK))

    def commit(
        self, new: NewEntry, extras: Callable[[Entry], list[Item]] = lambda entry: []
    ) -> Entry:
        """Append `new` with the caller's `extras` (built for the record's seq) in one
        transaction; ConditionFailed when one of the extras' conditions fails."""
        if self.refusal is not None:
            raise JournalCorrupt(self.refusal)
        for attempt in range(MAX_ATTEMPTS):
            head = self.head()
            entry = self._entry(new, head)
            items = self._chain_items(entry, head)
            own = extras(entry)
            try:
                with explained(self.resource):
                    self._transact(items + own)
            except ClientError as exc:
                reasons = _cancellation_codes(exc)
                failed = [i for i, code in enumerate(reasons) if code not in ("", "None")]
                for index in failed:
                    if index >= len(items) and reasons[index] == "ConditionalCheckFailed":
                        raise ConditionFailed(index - len(items)) from None
                if _HEAD in failed or "TransactionConflict" in reasons or _conflict(exc):
                    self._back_off(attempt)  # another writer moved the head: read it again
                    continue
                if _ENTRY in failed or _PREVIOUS in failed:
                    raise JournalCorrupt(self._corrupt(head, _ENTRY in failed)) from None
                raise
            self.anchors.write(entry.seq, entry.hash)
            return entry
        raise UserError(
            f"journal table {self.table}: {MAX_ATTEMPTS} attempts to append lost to other "
            "writers; try again"
        )

    def _entry(self, new: NewEntry, head: tuple[int, str] | None) -> Entry:
        fields = {f.name: getattr(new, f.name) for f in dataclasses.fields(new)}
        seq, prev_hash = head if head is not None else (0, GENESIS_HASH)
        unhashed = Entry(**fields, seq=seq + 1, timestamp=self.now(), prev_hash=prev_hash, hash="")
        return dataclasses.replace(unhashed, hash=record_hash(entry_to_record(unhashed)))

    def _chain_items(self, entry: Entry, head: tuple[int, str] | None) -> list[Item]:
        put_entry = {
            "Put": {
                "TableName": self.table,
                "Item": entry_item(entry),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        head_item = {
            **key(JOURNAL_PK, HEAD_SK),
            "seq": attribute(entry.seq),
            "hash": attribute(entry.hash),
        }
        if head is None:
            put_head = {
                "Put": {
                    "TableName": self.table,
                    "Item": head_item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            return [put_entry, put_head]
        expected = {":seq": attribute(head[0]), ":hash": attribute(head[1])}
        put_head = {
            "Put": {
                "TableName": self.table,
                "Item": head_item,
                "ConditionExpression": "#seq = :seq AND #hash = :hash",
                "ExpressionAttributeNames": {"#seq": "seq", "#hash": "hash"},
                "ExpressionAttributeValues": expected,
            }
        }
        previous = {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": key(JOURNAL_PK, entry_sk(head[0])),
                "ConditionExpression": "#hash = :hash",
                "ExpressionAttributeNames": {"#hash": "hash"},
                "ExpressionAttributeValues": {":hash": attribute(head[1])},
            }
        }
        return [put_entry, put_head, previous]

    def _transact(self, items: list[Item]) -> None:
        self.dynamodb.transact_write_items(TransactItems=items)

    def _back_off(self, attempt: int) -> None:
        # Jitter spreads the losers of a race apart; the round trip is the main wait anyway.
        self._sleep(random.uniform(0, min(0.2, 0.005 * (attempt + 1))))

    def _corrupt(self, head: tuple[int, str] | None, entry_exists: bool) -> str:
        seq = head[0] if head else 0
        what = (
            f"record {seq + 1} exists after the head (seq {seq})"
            if entry_exists
            else f"the head's record {seq} is missing or differs from it"
        )
        return (
            f"journal table {self.table}: {what}; run `fleetpatch journal verify` and keep "
            "the table as evidence before starting a new journal"
        )


def _cancellation_codes(exc: ClientError) -> list[str]:
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons") or []  # type: ignore[assignment]
    return [str(reason.get("Code") or "") for reason in reasons]


def _conflict(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionConflictException"
