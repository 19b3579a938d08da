"""Properties of the pure parts of the DynamoDB journal: the config's URLs, the anchors' keys,
and the check of a chain against its anchors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.config.journal import AnchorBucket, DynamoDbTable, parse_anchor, parse_journal
from fleetpatch.journal import Problem, VerifyResult
from fleetpatch.journal.anchor import (
    Anchored,
    anchor_key,
    check_against_anchors,
    parse_anchor_key,
)

tables = st.text(st.sampled_from("abcXYZ019_.-"), min_size=3, max_size=255)
buckets = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,20}[a-z0-9]\Z")
segments = st.lists(st.from_regex(r"\A[A-Za-z0-9_.=-]{1,8}\Z"), max_size=3)
hashes = st.text(st.sampled_from("0123456789abcdef"), min_size=64, max_size=64)


@given(tables)
def test_a_dynamodb_url_names_its_table(name: str) -> None:
    table = parse_journal(f"dynamodb://{name}")
    assert table == DynamoDbTable(name)
    assert parse_journal(str(table)) == table


@given(st.text(min_size=1).filter(lambda s: "://" not in s and s.strip()))
def test_anything_else_is_a_file_path(value: str) -> None:
    assert parse_journal(value) == Path(value)


@given(st.text())
def test_a_journal_value_parses_or_says_why_in_one_line(value: str) -> None:
    try:
        parse_journal(value)
    except ValueError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize(
    "value",
    ["dynamodb://", "dynamodb://ab", "dynamodb://a/b", "s3://bucket", "https://x/y", "  "],
)
def test_not_a_journal(value: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_journal(value)


@given(buckets, segments)
def test_an_anchor_url_round_trips(bucket: str, parts: list[str]) -> None:
    prefix = "/".join(parts)
    anchor = parse_anchor(f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}")
    assert anchor.bucket == bucket
    assert anchor.prefix == (f"{prefix}/" if prefix else "")
    assert parse_anchor(str(anchor)) == anchor


@given(st.text())
def test_an_anchor_value_parses_or_says_why_in_one_line(value: str) -> None:
    try:
        anchor = parse_anchor(value)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(anchor, AnchorBucket)


@pytest.mark.parametrize(
    "value",
    ["bucket", "s3://", "s3://Bucket", "s3://a", "s3://-bucket", "s3://b..c", "s3://1.2.3.4"],
)
def test_not_an_anchor(value: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_anchor(value)


@given(st.integers(1, 10**12 - 1), hashes, st.integers(1, 10**12 - 1), hashes)
def test_anchor_keys_round_trip_newest_first(seq: int, hashed: str, other: int, h2: str) -> None:
    base = "audit/fleetpatch-journal/head/"
    key = anchor_key(base, seq, hashed)
    assert parse_anchor_key(base, key) == Anchored(seq, hashed, key)
    if other > seq:
        assert anchor_key(base, other, h2) < key  # S3 lists the newer one first


def test_other_objects_are_not_anchors() -> None:
    base = "t/head/"
    assert parse_anchor_key(base, "t/head/notes.txt") is None
    assert parse_anchor_key(base, "other/" + anchor_key(base, 1, "a" * 64)) is None


def chain(length: int) -> dict[int, str]:
    return {seq: f"{seq:064x}" for seq in range(1, length + 1)}


def intact(length: int) -> VerifyResult:
    hashed = f"{length:064x}" if length else None
    return VerifyResult(True, length, length or None, hashed)


def anchors_of(hashes_by_seq: dict[int, str], seqs: list[int]) -> list[Anchored]:
    return [Anchored(s, hashes_by_seq[s], f"k{s}") for s in seqs]


@given(st.integers(1, 40), st.data())
def test_any_truncation_past_an_anchor_is_caught(length: int, data: st.DataObject) -> None:
    full = chain(length)
    anchored = data.draw(st.lists(st.sampled_from(sorted(full)), min_size=1, unique=True))
    kept = data.draw(st.integers(0, length))
    result = check_against_anchors(intact(kept), chain(kept), anchors_of(full, anchored), "s3://b/")
    if max(anchored) > kept:
        assert (result.ok, result.bad_seq, result.problem) == (
            False,
            kept + 1,
            Problem.ANCHOR_MISMATCH,
        )
    else:
        assert result.ok and result.anchored_seq == max(anchored)


@given(st.integers(1, 40), st.data())
def test_a_rehashed_chain_is_caught_at_its_first_anchor_after_the_edit(
    length: int, data: st.DataObject
) -> None:
    full = chain(length)
    edited = data.draw(st.integers(1, length))
    # Every record from `edited` on was re-hashed: intact as a chain, unlike its anchors.
    forged = {s: (h if s < edited else "f" * 64) for s, h in full.items()}
    result = check_against_anchors(intact(length), forged, anchors_of(full, list(full)), "s3://b/")
    assert (result.ok, result.bad_seq, result.problem) == (False, edited, Problem.ANCHOR_MISMATCH)
    assert result.anchored_seq == (edited - 1 or None)
