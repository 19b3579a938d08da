"""A lock whose holder process is dead on this host is taken over at once, not after its ttl."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from fleetpatch.journal import EntryKind, LockHeld, SqliteJournal, default_lock_owner
from fleetpatch.journal.model import holder_is_dead

TTL = timedelta(minutes=10)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_dead_holder_on_this_host_is_taken_over(tmp_path: Path) -> None:
    owner = f"alice@{socket.gethostname()} pid {dead_pid()}"
    with SqliteJournal(tmp_path / "j.sqlite") as journal:
        journal.acquire_lock("dev", owner, TTL)
        lock = journal.acquire_lock("dev", default_lock_owner(), TTL)  # no wait for the ttl
        assert lock.owner == default_lock_owner()
        last = [e for e in journal.entries() if e.kind is EntryKind.LOCK][-1]
        assert last.details["action"] == "taken_over"
        assert last.details["previous_owner"] == owner
        assert last.details["why"] == "holder process is dead"
        assert journal.verify().ok


def test_live_holder_keeps_its_lock(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.sqlite") as journal:
        journal.acquire_lock("dev", default_lock_owner(), TTL)  # this very process: alive
        with pytest.raises(LockHeld):
            journal.acquire_lock("dev", "bob@elsewhere pid 1", TTL)


def test_holder_on_another_host_is_never_judged_dead(tmp_path: Path) -> None:
    owner = f"alice@not-{socket.gethostname()} pid {dead_pid()}"
    assert not holder_is_dead(owner)
    with SqliteJournal(tmp_path / "j.sqlite") as journal:
        journal.acquire_lock("dev", owner, TTL)
        with pytest.raises(LockHeld, match="not-"):
            journal.acquire_lock("dev", default_lock_owner(), TTL)


@pytest.mark.parametrize(
    "owner",
    ["", "alice", "alice@host", f"alice@{socket.gethostname()} pid x", "pid 12"],
)
def test_unparseable_owner_is_not_dead(owner: str) -> None:
    assert not holder_is_dead(owner)


def test_this_process_is_alive() -> None:
    assert not holder_is_dead(f"me@{socket.gethostname()} pid {os.getpid()}")
