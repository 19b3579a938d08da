"""Anchors of the DynamoDB journal's chain head in S3, under Object Lock (COMPLIANCE mode).

The hash chain proves that nothing changed since a head you kept (docs/journal.md); an anchor
is that head, kept where nobody can change it: one S3 object per appended record, written in
COMPLIANCE mode, so that no one (the bucket owner and root included) can delete it or shorten
its retention until it expires. Someone who can write the table can then still rewrite or cut
it, but `verify` reports it: a record whose hash differs from its anchor, or an anchor beyond
the table's last record.

Every append is anchored (not batched): the window in which a record exists unanchored is one
S3 PUT long, and a rollout appends a few records per service, far below S3's request rates. A
crash between the append and its PUT leaves the anchors behind the table, which is not
tampering: every anchor is still a prefix of the chain. The next append anchors its own head
(which vouches for every record before it), and opening the journal anchors a head that links
to the newest anchor (`DynamoDbJournal` at open).

The anchor's seq and hash are in its key, not only in its body: Object Lock keeps every
version of a key, but a later PUT could make another version current; the key can't change.
Keys count down (`999999999999 - seq`), so ListObjectsV2, which lists in ascending key order,
gives the newest anchor first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from fleetpatch.config.journal import AnchorBucket
from fleetpatch.errors import UserError
from fleetpatch.journal.aws_errors import bucket_resource, explained, no_object_lock
from fleetpatch.journal.chain import Problem, VerifyResult, format_timestamp

_TOP = 10**12 - 1
_NAME = re.compile(r"^(?P<down>\d{12})-(?P<hash>[0-9a-f]{64})\.json$")


@dataclass(frozen=True)
class Anchored:
    seq: int
    hash: str
    key: str


def anchor_base(location: AnchorBucket, table: str) -> str:
    """Where one table's anchors live: a table re-created under the same name needs a new
    prefix, else its empty chain is (rightly) reported as truncated."""
    return f"{location.prefix}{table}/head/"


def anchor_key(base: str, seq: int, hashed: str) -> str:
    if not 1 <= seq <= _TOP:
        raise ValueError(f"seq {seq} out of range")
    return f"{base}{_TOP - seq:012d}-{hashed}.json"


def parse_anchor_key(base: str, key: str) -> Anchored | None:
    """The anchor a key names, or None for any other object under the prefix."""
    if not key.startswith(base):
        return None
    match = _NAME.match(key.removeprefix(base))
    if match is None:
        return None
    return Anchored(_TOP - int(match["down"]), match["hash"], key)


def check_against_anchors(
    result: VerifyResult, hashes: Mapping[int, str], anchors: Iterable[Anchored], where: str
) -> VerifyResult:
    """The chain's own verdict, then the anchors': a record whose hash differs from its
    anchor (rewritten), or an anchor past the end of the chain (truncated). `hashes` maps
    the intact records' seq to hash."""
    kept = sorted(anchors, key=lambda a: a.seq)
    if not result.ok or not kept:
        return result
    last = result.last_seq or 0
    proven = 0  # the newest seq an anchor confirms so far
    for anchor in kept:
        if anchor.seq > last:
            newest = kept[-1]
            span = _span(last + 1, newest.seq)
            return _mismatch(
                result,
                last + 1,
                f"the anchor {where}{newest.key} says the journal reached seq {newest.seq}, "
                f"but the table ends at seq {last}: {span} deleted (or the table was "
                "replaced)",
                proven,
            )
        if hashes.get(anchor.seq) != anchor.hash:
            first = proven + 1
            span = _span(first, anchor.seq)
            return _mismatch(
                result,
                first,
                f"record {anchor.seq}'s hash differs from its anchor {where}{anchor.key}: "
                f"{span} rewritten (and the chain re-hashed after it)",
                proven,
            )
        proven = anchor.seq
    return replace(result, anchored_seq=proven)


def _span(first: int, last: int) -> str:
    return f"record {first} was" if first == last else f"records {first}..{last} were"


def _mismatch(result: VerifyResult, bad_seq: int, reason: str, proven: int) -> VerifyResult:
    return replace(
        result,
        ok=False,
        bad_seq=bad_seq,
        problem=Problem.ANCHOR_MISMATCH,
        reason=reason,
        anchored_seq=proven or None,
    )


class ChainAnchors:
    """The anchor objects of one table in one bucket (an S3 client passed in)."""

    def __init__(
        self, s3: Any, location: AnchorBucket, table: str, clock: Callable[[], datetime]
    ) -> None:
        self._s3 = s3
        self.location = location
        self._table = table
        self._clock = clock
        self._base = anchor_base(location, table)
        self._resource = bucket_resource(location.bucket)

    @property
    def where(self) -> str:
        return f"s3://{self.location.bucket}/"

    def check_object_lock(self) -> None:
        """At open: the bucket exists and has Object Lock (else anchors could be deleted)."""
        with explained(self._resource):
            answer = self._s3.get_object_lock_configuration(Bucket=self.location.bucket)
        enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise UserError(no_object_lock(self._resource))

    def write(self, seq: int, hashed: str) -> None:
        now = self._clock()
        body = {
            "table": self._table,
            "seq": seq,
            "hash": hashed,
            "anchored_at": format_timestamp(now),
        }
        with explained(self._resource):
            self._s3.put_object(
                Bucket=self.location.bucket,
                Key=anchor_key(self._base, seq, hashed),
                Body=json.dumps(body, sort_keys=True).encode(),
                ContentType="application/json",
                # Object Lock PUTs must carry a checksum (Content-MD5 or an SDK checksum).
                ChecksumAlgorithm="SHA256",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=now + timedelta(days=self.location.retention_days),
            )

    def newest(self) -> Anchored | None:
        with explained(self._resource):
            answer = self._s3.list_objects_v2(
                Bucket=self.location.bucket, Prefix=self._base, MaxKeys=1
            )
        for item in answer.get("Contents", []):
            return parse_anchor_key(self._base, item["Key"])
        return None

    def all(self) -> list[Anchored]:
        found: list[Anchored] = []
        request: dict[str, Any] = {"Bucket": self.location.bucket, "Prefix": self._base}
        with explained(self._resource):
            while True:
                answer = self._s3.list_objects_v2(**request)
                for item in answer.get("Contents", []):
                    anchored = parse_anchor_key(self._base, item["Key"])
                    if anchored is not None:
                        found.append(anchored)
                if not answer.get("IsTruncated"):
                    return found
                request["ContinuationToken"] = answer["NextContinuationToken"]
