"""The DynamoDB journal on the simulator: races between workers, a crashed lock holder, and
tampering with the table, caught by the chain and by the S3 Object Lock anchors."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from fleetpatch.journal import EntryKind, JournalCorrupt, LockHeld, LockLost, NewEntry, Problem
from fleetpatch.journal.chain import entry_to_record, record_hash
from fleetpatch.journal.dynamodb import DynamoDbJournal
from fleetpatch.journal.dynamodb_items import entry_item
from tests.journal.aws_journal import BUCKET, TABLE, AwsJournalWorld
from tests.journal.journal_helpers import FakeClock

TTL = timedelta(minutes=10)


def note(i: int, **details: Any) -> NewEntry:
    return NewEntry(kind=EntryKind.NOTE, environment="dev", details={"i": i, **details})


def race(workers: int, run: Callable[[int], Any]) -> list[Any]:
    """Run `run(n)` in `workers` threads released together by a barrier; their results."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def worker(n: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[n] = run(n)
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    return results


@pytest.fixture
def five(aws_world: AwsJournalWorld, clock: FakeClock) -> DynamoDbJournal:
    journal = aws_world.open(clock)
    for i in range(5):
        journal.append(note(i))
    return journal


# --- workers racing -------------------------------------------------------------------------


def test_two_workers_racing_for_one_lock(aws_world: AwsJournalWorld, clock: FakeClock) -> None:
    # Two workers: two journals (as two Lambdas or runners would open them), one table.
    journals = [aws_world.open(clock) for _ in range(2)]
    owners = ["run-a", "run-b"]
    outcomes = race(2, lambda n: journals[n].acquire_lock("prod", owners[n], TTL))

    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, LockHeld)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert lost[0].holder == won[0].owner  # the loser is told who holds it
    actions = [e.details["action"] for e in journals[0].entries(kind="lock")]
    assert actions == ["acquired"]
    assert journals[0].verify().ok


def test_a_crashed_holders_lock_expires(aws_world: AwsJournalWorld, clock: FakeClock) -> None:
    crashed = aws_world.open(clock)
    stale = crashed.acquire_lock("prod", "alice@runner-1 pid 7", TTL)  # ... and never again
    successor = aws_world.open(clock)
    with pytest.raises(LockHeld, match="alice@runner-1 pid 7"):
        successor.acquire_lock("prod", "bob@runner-2 pid 9", TTL)

    clock.advance(minutes=10, seconds=1)  # the store's clock passes the lock's expiry
    lock = successor.acquire_lock("prod", "bob@runner-2 pid 9", TTL)

    assert lock.owner == "bob@runner-2 pid 9"
    takeover = successor.entries(kind="lock")[-1]
    assert takeover.details["action"] == "taken_over"
    assert takeover.details["previous_owner"] == "alice@runner-1 pid 7"
    with pytest.raises(LockLost, match="now held by bob"):
        crashed.refresh_lock(stale)  # had it only hung, it now learns it must stop
    crashed.release_lock(stale)  # and its release does not free bob's lock
    with pytest.raises(LockHeld):
        crashed.acquire_lock("prod", "carol", TTL)


def test_abort_takes_the_lock_from_a_live_holder(
    aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    journal = aws_world.open(clock)
    running = journal.acquire_lock("prod", "alice", TTL)
    journal.acquire_lock("prod", "bob", TTL, take_over="abort by bob")
    with pytest.raises(LockLost):
        journal.refresh_lock(running)
    assert journal.entries(kind="lock")[-1].details["why"] == "abort by bob"


def test_concurrent_appenders_keep_one_linear_chain(
    aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    writers, each = 4, 10
    journals = [aws_world.open(clock) for _ in range(writers)]

    def write(n: int) -> list[int]:
        return [journals[n].append(note(i, writer=n)).seq for i in range(each)]

    results = race(writers, write)

    seqs = sorted(seq for result in results for seq in result)
    assert seqs == list(range(1, writers * each + 1))  # no seq lost, none written twice
    entries = journals[0].entries()
    written = sorted((e.details["writer"], e.details["i"]) for e in entries)
    assert written == [(n, i) for n in range(writers) for i in range(each)]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    result = journals[0].verify()
    assert result.ok, result.reason
    assert result.anchored_seq == writers * each


def test_of_racing_transitions_exactly_one_wins(
    aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    journals = [aws_world.open(clock) for _ in range(3)]
    approval = NewEntry(kind=EntryKind.APPROVAL, environment="prod", details={"by": "bob"})

    outcomes = race(3, lambda n: journals[n].transition("req-1", {""}, "APPROVED", approval))

    assert len([o for o in outcomes if o is not None]) == 1, outcomes
    assert journals[0].state("req-1") == "APPROVED"
    assert len(journals[0].entries(kind="approval")) == 1
    started = NewEntry(kind=EntryKind.REQUEST_STARTED, environment="prod")
    assert journals[1].transition("req-1", {""}, "STARTED", started) is None
    assert journals[1].transition("req-1", {"APPROVED"}, "STARTED", started) is not None
    assert journals[2].state("req-1") == "STARTED"


def test_verify_while_others_append_is_not_a_false_alarm(
    aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    journals = [aws_world.open(clock) for _ in range(2)]

    def work(n: int) -> list[bool]:
        if n == 0:
            for i in range(15):
                journals[0].append(note(i))
            return []
        return [journals[1].verify().ok for _ in range(5)]

    _, verdicts = race(2, work)
    assert verdicts == [True] * 5
    assert journals[1].verify().anchored_seq == 15


# --- tampering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", {"S": "mallory"}),
        ("environment", {"S": "prod"}),
        ("service", {"S": "api"}),
        ("details", {"S": '{"i": 2}'}),  # the same JSON value, re-spaced: still an edit
        ("timestamp", {"S": "2026-11-27T08:00:00.000000+00:00"}),
        ("kind", {"S": "bogus"}),
    ],
)
def test_an_edited_item_is_named_by_verify(
    five: DynamoDbJournal, aws_world: AwsJournalWorld, field: str, value: dict[str, Any]
) -> None:
    aws_world.set_field(3, field, value)
    result = five.verify()
    assert not result.ok
    assert (result.bad_seq, result.problem) == (3, Problem.CHANGED)
    assert result.last_seq == 2


def test_a_rewritten_and_rehashed_tail_is_caught_by_the_anchors(
    five: DynamoDbJournal, aws_world: AwsJournalWorld
) -> None:
    # A careful attacker rewrites record 3 onward with recomputed hashes and moves the head:
    # the table is consistent again; only the anchors, which can't be rewritten, disagree.
    entries = five.entries()
    previous = entries[1].hash
    for entry in entries[2:]:
        forged = dataclasses.replace(entry, actor="mallory", prev_hash=previous, hash="")
        forged = dataclasses.replace(forged, hash=record_hash(entry_to_record(forged)))
        aws_world.dynamodb.put_item(TableName=TABLE, Item=entry_item(forged))
        previous = forged.hash
    aws_world.set_head(5, previous)

    result = five.verify()

    assert not result.ok
    assert (result.bad_seq, result.problem) == (3, Problem.ANCHOR_MISMATCH)
    assert "record 3 was rewritten" in result.reason
    assert result.anchored_seq == 2


def test_a_truncated_table_is_reported_against_the_anchor(
    five: DynamoDbJournal, aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    # Delete the newest records and set the head back: the table alone looks intact.
    aws_world.delete_entry(5)
    aws_world.delete_entry(4)
    aws_world.set_head(3, five.entries()[-1].hash)

    result = five.verify()

    assert not result.ok
    assert (result.bad_seq, result.problem) == (4, Problem.ANCHOR_MISMATCH)
    assert "records 4..5 were deleted" in result.reason
    assert f"s3://{BUCKET}/" in result.reason
    # And nobody chains onto the cut table: that would bury the evidence.
    with pytest.raises(JournalCorrupt, match="ends at seq 3 but its anchor says seq 5"):
        aws_world.open(clock).append(note(9))


def test_a_truncated_tail_without_the_head_is_a_head_mismatch(
    five: DynamoDbJournal, aws_world: AwsJournalWorld
) -> None:
    aws_world.delete_entry(5)
    result = five.verify()
    assert (result.bad_seq, result.problem) == (5, Problem.HEAD_MISMATCH)
    with pytest.raises(JournalCorrupt, match="record 5 is missing"):
        five.append(note(9))


def test_anchors_are_kept_in_compliance_mode(
    five: DynamoDbJournal, aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    keys = aws_world.anchor_keys()
    assert len(keys) == 5  # one per append, newest first
    newest = aws_world.s3.head_object(Bucket=BUCKET, Key=keys[0])
    assert newest["ObjectLockMode"] == "COMPLIANCE"
    assert newest["ObjectLockRetainUntilDate"] == clock.now + timedelta(days=400)
    assert five.entries()[-1].hash in keys[0]
    with pytest.raises(aws_world.s3.exceptions.ClientError, match="AccessDenied"):
        aws_world.s3.delete_object(Bucket=BUCKET, Key=keys[0], VersionId=newest["VersionId"])


def test_a_crash_between_append_and_anchor_is_repaired_not_reported(
    five: DynamoDbJournal, aws_world: AwsJournalWorld, clock: FakeClock
) -> None:
    # A writer commits record 6 (record and head, one transaction) and dies before its PUT.
    last = five.entries()[-1]
    unhashed = dataclasses.replace(last, seq=6, prev_hash=last.hash, hash="")
    record = dataclasses.replace(unhashed, hash=record_hash(entry_to_record(unhashed)))
    aws_world.dynamodb.put_item(TableName=TABLE, Item=entry_item(record))
    aws_world.set_head(6, record.hash)

    lagging = five.verify()
    assert lagging.ok and lagging.anchored_seq == 5  # behind, but not tampering

    aws_world.open(clock)  # the next start anchors the head that links to the last anchor
    repaired = five.verify()
    assert repaired.ok and repaired.anchored_seq == 6
    assert record.hash in aws_world.anchor_keys()[0]
