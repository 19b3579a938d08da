"""Where the inventory Map's shards leave their snapshots: S3 (FLEETPATCH_SNAPSHOT_BUCKET).

A Map state's items and results travel inside the execution (256 KiB per payload); one
account's snapshot of a thousand services is megabytes. So each shard writes its snapshot
to S3 and returns only its key, and the merge reads them back (workflow/inventory.py).

`SnapshotStore` is the one interface (tests and the bench may pass another); `S3SnapshotStore`
is the AWS one: s3:PutObject and s3:GetObject on the bucket, with the default credential
chain (in Lambda: the function's role). botocore's own AWS_ENDPOINT_URL_S3 (or
AWS_ENDPOINT_URL) points it elsewhere, e.g. at the simulator, as for the AWS CLI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.errors import UserError

BUCKET_VARIABLE = "FLEETPATCH_SNAPSHOT_BUCKET"
# Error codes S3 answers when it is busy or failed on its side: worth a retry of the step.
TRANSIENT_CODES = frozenset(
    {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"}
)


class TransientStoreError(Exception):
    """S3 was busy or failed on its side; the step may simply run again."""


class SnapshotStore(Protocol):
    def url(self, key: str) -> str:
        """Where `key` is, for people (s3://bucket/key)."""
        ...

    def put(self, key: str, data: Mapping[str, Any]) -> None: ...

    def get(self, key: str) -> dict[str, Any] | None:
        """The object at `key`, or None when there is none."""
        ...


class S3SnapshotStore:
    """JSON objects in one S3 bucket."""

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._s3 = client

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, key: str, data: Mapping[str, Any]) -> None:
        body = json.dumps(data, separators=(",", ":")).encode("utf-8")
        try:
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            )
        except (ClientError, BotoCoreError) as exc:
            raise _failure("PutObject", self.url(key), exc) from exc

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise _failure("GetObject", self.url(key), exc) from exc
        except BotoCoreError as exc:
            raise _failure("GetObject", self.url(key), exc) from exc
        data = json.loads(answer["Body"].read())
        if not isinstance(data, dict):
            raise UserError(f"{self.url(key)} is not a fleetpatch snapshot: delete it")
        return data


def store_from_environment(environ: Mapping[str, str] | None = None) -> S3SnapshotStore:
    """The bucket FLEETPATCH_SNAPSHOT_BUCKET names, reached with the default credentials."""
    environ = os.environ if environ is None else environ
    bucket = environ.get(BUCKET_VARIABLE, "").strip()
    if not bucket:
        raise UserError(
            f"{BUCKET_VARIABLE} is not set: name the S3 bucket for inventory shard snapshots "
            "(deploy/template.yaml sets it on the inventory function)"
        )
    import boto3

    from fleetpatch.aws.session import client_config

    return S3SnapshotStore(bucket, boto3.Session().client("s3", config=client_config(3)))


def _failure(operation: str, url: str, exc: ClientError | BotoCoreError) -> Exception:
    """A transient failure to retry, or one line saying what to fix (in S3's words)."""
    if not isinstance(exc, ClientError):
        return TransientStoreError(f"s3:{operation} {url} failed: {exc}")
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    said = f"s3:{operation} {url} failed: {code}: {message}".rstrip(": ")
    if code in TRANSIENT_CODES:
        return TransientStoreError(said)
    if code == "NoSuchBucket":
        return UserError(f"{said}: create the bucket or fix {BUCKET_VARIABLE}")
    if code in ("AccessDenied", "AccessDeniedException"):
        return UserError(f"{said}: grant s3:{operation} on it to the inventory function's role")
    return UserError(said)
