"""Helpers shared by the journal tests (a module of its own: `conftest` names clash)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def tamper(path: Path, *statements: str) -> None:
    """What an attacker with file access does: drop the append-only triggers, edit rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS entries_no_update")
        conn.execute("DROP TRIGGER IF EXISTS entries_no_delete")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()
