"""Where the journal lives: a SQLite file path, or `dynamodb://TABLE` with an S3 anchor bucket.

Pure parsing (no AWS calls): `parse_journal("dynamodb://fleetpatch-journal")`,
`parse_anchor("s3://fleetpatch-anchors/prod/")`. Each mistake is a ValueError whose message is
one line saying what the value should look like; the config loader (and the environment
variables FLEETPATCH_JOURNAL / FLEETPATCH_JOURNAL_ANCHOR, read in journal/location.py) turn it
into a UserError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DYNAMODB_SCHEME = "dynamodb://"
S3_SCHEME = "s3://"
# PCI DSS v4.0 req. 10.5.1 keeps audit logs for at least 12 months; 400 days leaves a margin
# for an audit that starts late in the year after. COMPLIANCE mode: nobody, root included, can
# shorten it, so pick it with care (docs/journal.md).
DEFAULT_ANCHOR_RETENTION_DAYS = 400

# DynamoDB table names: 3-255 of [a-zA-Z0-9_.-] (DynamoDB's CreateTable documentation).
_TABLE_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
# S3 general purpose bucket names: 3-63 of [a-z0-9.-], starting and ending with a letter or
# digit, no "..", not an IP address.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")

TABLE_EXAMPLE = "'dynamodb://fleetpatch-journal'"
ANCHOR_EXAMPLE = "'s3://fleetpatch-journal-anchors' or 's3://BUCKET/PREFIX'"


@dataclass(frozen=True)
class AnchorBucket:
    """The S3 bucket (with Object Lock) holding the journal's chain-head anchors."""

    bucket: str
    prefix: str = ""  # "" or ends with "/"
    retention_days: int = DEFAULT_ANCHOR_RETENTION_DAYS

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}".rstrip("/")


@dataclass(frozen=True)
class DynamoDbTable:
    """`journal = "dynamodb://TABLE"`; `anchor` comes from `journal_anchor` (or the env)."""

    name: str
    anchor: AnchorBucket | None = None

    def __str__(self) -> str:
        return f"{DYNAMODB_SCHEME}{self.name}"


JournalSetting = Path | DynamoDbTable


def parse_journal(value: str) -> JournalSetting:
    """A file path, or `dynamodb://TABLE`. A URL of another scheme is refused, not taken as a
    relative path named `s3:`."""
    if value.startswith(DYNAMODB_SCHEME):
        name = value.removeprefix(DYNAMODB_SCHEME)
        if not _TABLE_RE.match(name):
            raise ValueError(
                f"expected {TABLE_EXAMPLE}: a table name is 3-255 letters, digits, '_', '-' or '.'"
            )
        return DynamoDbTable(name)
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", value)
    if scheme is not None:
        raise ValueError(f"expected a file path or {TABLE_EXAMPLE}, not a {scheme.group(1)}:// URL")
    if not value.strip():
        raise ValueError(f"expected a file path or {TABLE_EXAMPLE}, not an empty string")
    return Path(value)


def parse_anchor(value: str, retention_days: int = DEFAULT_ANCHOR_RETENTION_DAYS) -> AnchorBucket:
    """`s3://BUCKET` or `s3://BUCKET/PREFIX` (the prefix is kept as a folder: `PREFIX/`)."""
    if not value.startswith(S3_SCHEME):
        raise ValueError(f"expected {ANCHOR_EXAMPLE}")
    bucket, _, prefix = value.removeprefix(S3_SCHEME).partition("/")
    if not _BUCKET_RE.match(bucket) or ".." in bucket or _IP_RE.match(bucket):
        raise ValueError(
            f"expected {ANCHOR_EXAMPLE}: a bucket name is 3-63 lowercase letters, digits, "
            "'.' or '-', starting and ending with a letter or digit"
        )
    prefix = prefix.strip("/")
    if "//" in prefix or any(ord(c) < 32 for c in prefix):
        raise ValueError(f"expected {ANCHOR_EXAMPLE}: the prefix has an empty or unprintable part")
    return AnchorBucket(bucket, f"{prefix}/" if prefix else "", retention_days)
