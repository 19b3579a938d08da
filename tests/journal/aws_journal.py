"""The DynamoDB journal's world for tests: the simulator (moto's DynamoDB and S3 behind
fleetpatch's server, over real HTTP), the table and the Object Lock bucket, created as
deploy/template.yaml creates them, and what a user (or an attacker) does to them with boto3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from fleetpatch.config.journal import AnchorBucket, DynamoDbTable
from fleetpatch.journal import open_journal
from fleetpatch.journal.dynamodb import DynamoDbJournal
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import SIM_ACCESS_KEY

REGION = "eu-west-1"
TABLE = "fleetpatch-journal"
BUCKET = "fleetpatch-journal-anchors"
# No environments: the journal lives in the hub account the base credential stands for.
EMPTY_SCENARIO: dict[str, Any] = {
    "now": "2026-11-27T09:00:00Z",
    "time_scale": 0,
    "environments": [],
}


def environment(sim: Simulator) -> dict[str, str]:
    """What a user sets to reach the simulator with the standard AWS credential chain."""
    return {
        "AWS_ENDPOINT_URL": sim.endpoint_url,
        "AWS_ACCESS_KEY_ID": SIM_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SIM_ACCESS_KEY,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


@dataclass
class AwsJournalWorld:
    sim: Simulator

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.sim.endpoint_url,
            region_name=REGION,
            aws_access_key_id=SIM_ACCESS_KEY,
            aws_secret_access_key=SIM_ACCESS_KEY,
        )

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    def create_table(self, name: str = TABLE) -> None:
        self.dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    def create_bucket(self, name: str = BUCKET, *, object_lock: bool = True) -> None:
        self.s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": REGION},
            ObjectLockEnabledForBucket=object_lock,
        )

    def open(
        self,
        clock: Callable[[], datetime],
        table: str = TABLE,
        bucket: str = BUCKET,
        prefix: str = "",
    ) -> DynamoDbJournal:
        """The journal as every command opens it (`open_journal`)."""
        store = open_journal(DynamoDbTable(table, AnchorBucket(bucket, prefix)), clock=clock)
        assert isinstance(store, DynamoDbJournal)
        return store

    # --- what someone with write access to the table does ----------------------------------

    def entry_key(self, seq: int, table: str = TABLE) -> dict[str, Any]:
        return {"pk": {"S": "journal"}, "sk": {"S": f"entry#{seq:012d}"}}

    def set_field(self, seq: int, field: str, value: dict[str, Any], table: str = TABLE) -> None:
        self.dynamodb.update_item(
            TableName=table,
            Key=self.entry_key(seq),
            UpdateExpression="SET #f = :v",
            ExpressionAttributeNames={"#f": field},
            ExpressionAttributeValues={":v": value},
        )

    def delete_entry(self, seq: int, table: str = TABLE) -> None:
        self.dynamodb.delete_item(TableName=table, Key=self.entry_key(seq))

    def set_head(self, seq: int, hashed: str, table: str = TABLE) -> None:
        self.dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": "journal"},
                "sk": {"S": "head"},
                "seq": {"N": str(seq)},
                "hash": {"S": hashed},
            },
        )

    def anchor_keys(self, bucket: str = BUCKET) -> list[str]:
        answer = self.s3.list_objects_v2(Bucket=bucket)
        return [item["Key"] for item in answer.get("Contents", [])]
