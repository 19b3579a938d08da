"""`verify` passes on an intact chain and names the first bad record after each tampering."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetpatch.journal import EntryKind, NewEntry, Problem, SqliteJournal
from fleetpatch.journal.chain import entry_to_record, record_hash
from fleetpatch.journal.store import OpenJournal
from tests.journal.journal_helpers import tamper


@pytest.fixture
def five(journal: SqliteJournal) -> SqliteJournal:
    for i in range(5):
        journal.append(NewEntry(kind=EntryKind.NOTE, environment="dev", details={"i": i}))
    return journal


def test_an_empty_journal_verifies(store: OpenJournal) -> None:
    result = store.verify()
    assert result.ok and result.checked == 0 and result.last_seq is None


def test_a_clean_chain_verifies(five: SqliteJournal) -> None:
    result = five.verify()
    assert result.ok
    assert (result.checked, result.last_seq) == (5, 5)
    assert result.last_hash == five.entries()[-1].hash


def test_an_updated_field_is_detected(five: SqliteJournal, journal_path: Path) -> None:
    tamper(journal_path, "UPDATE entries SET environment = 'prod' WHERE seq = 3")
    result = five.verify()
    assert not result.ok
    assert (result.bad_seq, result.problem) == (3, Problem.CHANGED)
    assert result.last_seq == 2  # what is still trustworthy


def test_a_respaced_details_text_is_detected(five: SqliteJournal, journal_path: Path) -> None:
    # Same JSON value, different bytes: still an edit of the evidence.
    tamper(journal_path, """UPDATE entries SET details = '{"i": 1}' WHERE seq = 2""")
    assert (five.verify().bad_seq, five.verify().problem) == (2, Problem.CHANGED)


def test_a_deleted_record_in_the_middle_is_detected(
    five: SqliteJournal, journal_path: Path
) -> None:
    tamper(journal_path, "DELETE FROM entries WHERE seq = 3")
    result = five.verify()
    assert (result.bad_seq, result.problem) == (3, Problem.MISSING)
    assert "3 missing" in result.reason


def test_a_deleted_and_renumbered_record_is_detected(
    five: SqliteJournal, journal_path: Path
) -> None:
    tamper(
        journal_path,
        "DELETE FROM entries WHERE seq = 3",
        "UPDATE entries SET seq = seq - 1 WHERE seq > 3",
        "UPDATE head SET seq = 4",
    )
    result = five.verify()
    assert not result.ok and result.bad_seq == 3


def test_a_deleted_tail_is_caught_by_the_head(five: SqliteJournal, journal_path: Path) -> None:
    tamper(journal_path, "DELETE FROM entries WHERE seq >= 4")
    result = five.verify()
    assert (result.bad_seq, result.problem) == (4, Problem.HEAD_MISMATCH)
    assert "4..5 were deleted" in result.reason


def test_a_rewritten_record_with_a_recomputed_hash_breaks_the_next_link(
    five: SqliteJournal, journal_path: Path
) -> None:
    # A careful attacker fixes record 2's hash; record 3 still points at the old one.
    record = five.entries()[1]
    forged = {**entry_to_record(record), "actor": "mallory"}
    tamper(
        journal_path,
        f"UPDATE entries SET actor = 'mallory', hash = '{record_hash(forged)}' WHERE seq = 2",
    )
    result = five.verify()
    assert (result.bad_seq, result.problem) == (3, Problem.BROKEN_LINK)


def test_swapped_records_are_reported_as_reordered(five: SqliteJournal, journal_path: Path) -> None:
    tamper(
        journal_path,
        "UPDATE entries SET seq = -1 WHERE seq = 2",
        "UPDATE entries SET seq = 2 WHERE seq = 3",
        "UPDATE entries SET seq = 3 WHERE seq = -1",
    )
    result = five.verify()
    assert (result.bad_seq, result.problem) == (2, Problem.REORDERED)
    assert "written as seq 3" in result.reason


def test_a_missing_head_is_reported(five: SqliteJournal, journal_path: Path) -> None:
    tamper(journal_path, "DELETE FROM head")
    assert five.verify().problem is Problem.HEAD_MISMATCH


def test_an_unparseable_record_is_reported_not_raised(
    five: SqliteJournal, journal_path: Path
) -> None:
    tamper(journal_path, "UPDATE entries SET kind = 'bogus', details = 'not json' WHERE seq = 4")
    assert five.verify().bad_seq == 4
