"""`DynamoDbAnswerCache`: the answers AWS never changes (inventory/answers.py), kept in the
DynamoDB journal's table when the journal is there, so that a Lambda or a CI runner, whose disk
is gone after the run, still reads an unchanged fleet warm.

    pk="answer#<kind>"  sk=<ARN>  value (JSON text)  expires_at (epoch seconds: the table's TTL)

The answers never go stale (their ARNs are never reused), so the TTL only bounds the table's
size: an answer no inventory has needed for KEEP is deleted by DynamoDB, and the next read of it
is cold. One Query per kind reads the kind's answers (fewer calls than one GetItem per ARN, and
within the journal's IAM statement); new answers are written with PutItem.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from fleetpatch.journal.aws_errors import explained, table_resource
from fleetpatch.journal.sqlite import utc_now

KEEP = timedelta(days=90)
_PREFIX = "answer#"


class DynamoDbAnswerCache:
    """AnswerCache in the journal's table; safe to share between threads (botocore clients)."""

    def __init__(
        self,
        dynamodb: Any,
        table: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        keep: timedelta = KEEP,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock
        self._keep = keep
        self._resource = table_resource(table, dynamodb.meta.region_name)

    def get_many(self, kind: str, keys: Sequence[str]) -> dict[str, Any]:
        wanted = set(keys)
        if not wanted:
            return {}
        found: dict[str, Any] = {}
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _PREFIX + kind}},
        }
        with explained(self._resource):
            while True:
                answer = self._dynamodb.query(**request)
                for item in answer.get("Items", []):
                    key = item["sk"]["S"]
                    if key in wanted and "S" in item.get("value", {}):
                        found[key] = json.loads(item["value"]["S"])
                if "LastEvaluatedKey" not in answer:
                    return found
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def put_many(self, kind: str, answers: Mapping[str, Any]) -> None:
        expires = int((self._clock() + self._keep).timestamp())
        with explained(self._resource):
            for key, value in answers.items():
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": _PREFIX + kind},
                        "sk": {"S": key},
                        "value": {"S": json.dumps(value)},
                        "expires_at": {"N": str(expires)},
                    },
                )

    def close(self) -> None:
        return None
