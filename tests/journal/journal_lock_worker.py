"""Run in a spawned process by the lock race test (a plain module so spawn can import it fast)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fleetpatch.journal import LockHeld, SqliteJournal


def race_for_lock(path: str, owner: str, start: Any, results: Any) -> None:
    start.wait(timeout=30)  # both processes try at (nearly) the same instant
    with SqliteJournal(Path(path)) as journal:
        try:
            journal.acquire_lock("prod", owner, timedelta(minutes=10))
        except LockHeld as exc:
            results.put(("lost", owner, exc.holder))
        else:
            results.put(("won", owner, owner))
