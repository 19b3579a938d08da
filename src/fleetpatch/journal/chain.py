"""The hash chain, as pure functions over plain records (dicts of JSON values).

A record is the flat dict of an entry's fields, exactly as stored (timestamp as an ISO string,
kind as its value). Its hash is sha256 over the canonical JSON of every field but `hash` itself,
and that includes `prev_hash`, the previous record's hash. So changing, removing or moving any
record breaks either its own hash or the next record's link.

`verify_records` works on raw stored rows, not on `Entry` objects: a tampered row may not even
parse as an Entry (an unknown kind, a broken timestamp) and must still be reported, not crash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fleetpatch.journal.model import GENESIS_HASH, Entry, EntryKind

# Every field that goes into a record's hash, i.e. every stored column except `hash`.
HASHED_FIELDS = (
    "seq",
    "timestamp",
    "kind",
    "actor",
    "environment",
    "service",
    "sidecar",
    "digest_before",
    "digest_after",
    "target_digest",
    "deployment_id",
    "rollout_id",
    "details",
    "prev_hash",
)
RECORD_FIELDS = (*HASHED_FIELDS, "hash")


def canonical_json(value: Any) -> str:
    """One byte sequence per value: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def record_hash(record: Mapping[str, Any]) -> str:
    """The hash a record must carry. Raises TypeError/ValueError on non-JSON values."""
    payload = {name: record[name] for name in HASHED_FIELDS}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def format_timestamp(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601, so stored timestamps also sort correctly as strings."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_to_record(entry: Entry) -> dict[str, Any]:
    """The flat JSON form of an entry: what is hashed, stored and exported."""
    return {
        "seq": entry.seq,
        "timestamp": format_timestamp(entry.timestamp),
        "kind": entry.kind.value,
        "actor": entry.actor,
        "environment": entry.environment,
        "service": entry.service,
        "sidecar": entry.sidecar,
        "digest_before": entry.digest_before,
        "digest_after": entry.digest_after,
        "target_digest": entry.target_digest,
        "deployment_id": entry.deployment_id,
        "rollout_id": entry.rollout_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def record_to_entry(record: Mapping[str, Any]) -> Entry:
    """Parse a stored record. Raises ValueError/TypeError/KeyError when it doesn't parse."""
    return Entry(
        seq=record["seq"],
        timestamp=datetime.fromisoformat(record["timestamp"]).astimezone(UTC),
        kind=EntryKind(record["kind"]),
        actor=record["actor"],
        environment=record["environment"],
        service=record["service"],
        sidecar=record["sidecar"],
        digest_before=record["digest_before"],
        digest_after=record["digest_after"],
        target_digest=record["target_digest"],
        deployment_id=record["deployment_id"],
        rollout_id=record["rollout_id"],
        details=record["details"],
        prev_hash=record["prev_hash"],
        hash=record["hash"],
    )


# --- verification --------------------------------------------------------------------------


class Problem(StrEnum):
    CHANGED = "changed"  # a record's content no longer matches its hash
    MISSING = "missing"  # a gap in seq: records were deleted
    REORDERED = "reordered"  # a record sits at another seq than the one it was written with
    BROKEN_LINK = "broken_link"  # prev_hash isn't the previous record's hash
    HEAD_MISMATCH = "head_mismatch"  # the head anchor disagrees with the last record
    # The chain disagrees with a head kept outside the store (the S3 Object Lock anchors of
    # the DynamoDB journal): the store was truncated, or rewritten and re-hashed.
    ANCHOR_MISMATCH = "anchor_mismatch"


@dataclass(frozen=True)
class Head:
    """The anchor row: last seq and hash, written in the same transaction as each record."""

    seq: int
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # records whose hash and link were checked before stopping
    last_seq: int | None  # last intact record (None: none)
    last_hash: str | None
    bad_seq: int | None = None  # the FIRST seq found bad
    problem: Problem | None = None
    reason: str = ""
    # The newest seq an external anchor vouches for (DynamoDB journal); None: none kept.
    anchored_seq: int | None = None


def verify_records(records: Sequence[Mapping[str, Any]], head: Head | None) -> VerifyResult:
    """Walk the chain in seq order; stop at the first bad record and say why."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0

    def bad(seq: int, problem: Problem, reason: str) -> VerifyResult:
        last = expected_seq - 1 if checked else None
        return VerifyResult(
            False, checked, last, prev_hash if checked else None, seq, problem, reason
        )

    for record in records:
        seq = record["seq"]
        if seq != expected_seq:
            if isinstance(seq, int) and seq > expected_seq:
                gap = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
                return bad(expected_seq, Problem.MISSING, f"record(s) {gap} missing (deleted)")
            return bad(
                expected_seq,
                Problem.REORDERED,
                f"found seq {seq!r} where {expected_seq} was expected",
            )
        try:
            valid = record_hash(record) == record["hash"]
        except (TypeError, ValueError):
            valid = False  # a value JSON can't carry was written into the row
        if not valid:
            moved_from = _written_as(record, [r["seq"] for r in records])
            if moved_from is not None:
                return bad(
                    seq, Problem.REORDERED, f"record was written as seq {moved_from} and moved"
                )
            return bad(seq, Problem.CHANGED, "content does not match its hash (record changed)")
        if record["prev_hash"] != prev_hash:
            return bad(
                seq,
                Problem.BROKEN_LINK,
                f"prev_hash does not match record {seq - 1}'s hash "
                "(a record before it was rewritten, replaced or removed)",
            )
        prev_hash = record["hash"]
        expected_seq += 1
        checked += 1

    last_seq = expected_seq - 1
    intact = VerifyResult(True, checked, last_seq or None, prev_hash if checked else None)
    return _check_head(intact, head)


def _written_as(record: Mapping[str, Any], seqs: Sequence[Any]) -> int | None:
    """If the record's hash matches under another seq, it was moved there from that seq."""
    for other in seqs:
        if other == record["seq"] or not isinstance(other, int):
            continue
        try:
            if record_hash({**record, "seq": other}) == record["hash"]:
                return other
        except (TypeError, ValueError):
            return None
    return None


def _check_head(intact: VerifyResult, head: Head | None) -> VerifyResult:
    """Only the head can reveal a truncated tail: the remaining chain is itself consistent."""
    last_seq, last_hash = intact.last_seq or 0, intact.last_hash

    def mismatch(bad_seq: int, reason: str) -> VerifyResult:
        return VerifyResult(
            False,
            intact.checked,
            intact.last_seq,
            last_hash,
            bad_seq,
            Problem.HEAD_MISMATCH,
            reason,
        )

    if head is None:
        if last_seq == 0:
            return intact  # a new, empty journal
        return mismatch(last_seq, "the head row is missing")
    if head.seq > last_seq:
        return mismatch(
            last_seq + 1,
            f"head says the last record is seq {head.seq}, but the journal ends at seq "
            f"{last_seq}: records {last_seq + 1}..{head.seq} were deleted",
        )
    if head.seq < last_seq:
        return mismatch(
            head.seq + 1,
            f"records after seq {head.seq} were added without updating the head",
        )
    if head.hash != last_hash:
        return mismatch(last_seq, f"head hash differs from record {last_seq}'s hash")
    return intact
