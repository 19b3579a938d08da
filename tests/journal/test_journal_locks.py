"""One rollout per environment: the lock is exclusive across processes and expires."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest

from fleetpatch.journal import EntryKind, LockHeld, LockLost, SqliteJournal
from fleetpatch.journal.store import OpenJournal
from tests.journal.journal_helpers import FakeClock
from tests.journal.journal_lock_worker import race_for_lock

TTL = timedelta(minutes=10)


def test_a_held_lock_is_refused_naming_holder_and_expiry(store: OpenJournal) -> None:
    lock = store.acquire_lock("prod", "alice@host pid 1", TTL)
    with pytest.raises(LockHeld) as excinfo:
        store.acquire_lock("prod", "bob@host pid 2", TTL)
    assert excinfo.value.holder == "alice@host pid 1"
    assert excinfo.value.expires_at == lock.expires_at
    assert "alice@host pid 1" in str(excinfo.value)
    # Other environments are independent.
    store.acquire_lock("dev", "bob@host pid 2", TTL)


def test_release_lets_the_next_run_in(store: OpenJournal) -> None:
    lock = store.acquire_lock("prod", "alice", TTL)
    store.release_lock(lock)
    store.release_lock(lock)  # idempotent
    store.acquire_lock("prod", "bob", TTL)


def test_an_expired_lock_is_taken_over(store: OpenJournal, clock: FakeClock) -> None:
    stale = store.acquire_lock("prod", "alice", TTL)
    clock.advance(minutes=11)
    fresh = store.acquire_lock("prod", "bob", TTL)
    assert fresh.owner == "bob"
    # The old holder must notice, and its release must not free bob's lock.
    with pytest.raises(LockLost, match="now held by bob"):
        store.refresh_lock(stale)
    store.release_lock(stale)
    with pytest.raises(LockHeld):
        store.acquire_lock("prod", "carol", TTL)
    takeover = store.entries(kind="lock")[-1]
    assert takeover.details["action"] == "taken_over"
    assert takeover.details["previous_owner"] == "alice"


def test_refresh_extends_the_lock(store: OpenJournal, clock: FakeClock) -> None:
    lock = store.acquire_lock("prod", "alice", TTL)
    clock.advance(minutes=8)
    refreshed = store.refresh_lock(lock)
    assert refreshed.expires_at == clock.now + TTL
    clock.advance(minutes=8)  # past the first expiry, within the refreshed one
    with pytest.raises(LockHeld):
        store.acquire_lock("prod", "bob", TTL)


def test_lock_changes_are_journaled(store: OpenJournal) -> None:
    store.release_lock(store.acquire_lock("prod", "alice", TTL))
    actions = [e.details["action"] for e in store.entries(kind=EntryKind.LOCK)]
    assert actions == ["acquired", "released"]
    assert store.verify().ok


def test_two_processes_racing_for_one_lock(journal_path: Path) -> None:
    SqliteJournal(journal_path).close()  # create the file first, as the CLI would
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    results = context.Queue()
    workers = [
        context.Process(target=race_for_lock, args=(str(journal_path), owner, start, results))
        for owner in ("run-a", "run-b")
    ]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    winners = [owner for status, owner, _ in outcomes if status == "won"]
    losers = [(owner, holder) for status, owner, holder in outcomes if status == "lost"]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0][1] == winners[0]  # the loser's LockHeld names the winner
    with SqliteJournal(journal_path) as journal:
        assert journal.verify().ok
