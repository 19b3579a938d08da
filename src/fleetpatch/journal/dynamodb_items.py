"""The journal's items in its DynamoDB table (keys `pk`, `sk`), as pure functions.

    pk="journal"  sk="entry#000000000042"  one record: chain.RECORD_FIELDS, details as text
    pk="journal"  sk="head"                the last seq and hash, moved by every append
    pk="lock"     sk=<environment>         an environment's lock: owner, token, expiry
    pk="state"    sk=<state machine key>   a change request's state (transition's CAS cell)

One partition holds the chain, so a Query in sk order reads it in seq order. `details` is kept
as its canonical JSON text, exactly as hashed (as the SQLite file keeps it): a re-spaced or
re-typed edit is still an edit. Values are DynamoDB's low-level attribute values.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from fleetpatch.journal.chain import RECORD_FIELDS, canonical_json, entry_to_record
from fleetpatch.journal.model import Entry

JOURNAL_PK = "journal"
HEAD_SK = "head"
ENTRY_PREFIX = "entry#"
LOCK_PK = "lock"
STATE_PK = "state"

Item = dict[str, Any]
_deserializer = TypeDeserializer()


def key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def entry_sk(seq: int) -> str:
    # Zero-padded: sk order is seq order up to 10^12 records.
    return f"{ENTRY_PREFIX}{seq:012d}"


def attribute(value: str | int | None) -> Item:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        raise TypeError("no booleans in journal items")
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": value}


def entry_item(entry: Entry) -> Item:
    record = entry_to_record(entry)
    record["details"] = canonical_json(record["details"])
    return {
        **key(JOURNAL_PK, entry_sk(entry.seq)),
        **{n: attribute(record[n]) for n in RECORD_FIELDS},
    }


def plain(value: Item | None) -> Any:
    """A low-level attribute value as Python; integral numbers as int (seq), others as text
    so that a tampered value still reaches `verify` instead of crashing it."""
    if value is None:
        return None
    python = _deserializer.deserialize(value)  # type: ignore[arg-type]
    if isinstance(python, Decimal):
        return int(python) if python == python.to_integral_value() else str(python)
    return python


def item_to_record(item: Item) -> dict[str, Any]:
    """The stored record as chain.verify_records reads it (a missing attribute reads as None)."""
    record = {name: plain(item.get(name)) for name in RECORD_FIELDS}
    text = record["details"]
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return record  # left as stored: it can't match the hash of a dict
    # Only the canonical text counts: a re-spaced or re-ordered edit is still an edit.
    if isinstance(text, str) and canonical_json(parsed) == text:
        record["details"] = parsed
    return record


def head_of(item: Item | None) -> tuple[int, str] | None:
    if item is None:
        return None
    seq, hashed = plain(item.get("seq")), plain(item.get("hash"))
    if not isinstance(seq, int) or not isinstance(hashed, str):
        return (-1, str(hashed))  # a head nobody wrote: no seq can match it
    return (seq, hashed)
