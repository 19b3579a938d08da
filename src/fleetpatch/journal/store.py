"""The journal store interface: SQLite (journal/sqlite.py) and DynamoDB (journal/dynamodb.py)
behind the same eight methods."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol

from fleetpatch.journal.chain import VerifyResult
from fleetpatch.journal.model import Entry, Lock, NewEntry


class JournalStore(Protocol):
    def append(self, entry: NewEntry) -> Entry:
        """Append one record at the end of the chain; return it as stored."""
        ...

    def entries(
        self,
        environment: str | None = None,
        since: datetime | None = None,
        kind: str | None = None,
    ) -> list[Entry]:
        """Records in seq order, optionally only one environment / from `since` / one kind."""
        ...

    def verify(self) -> VerifyResult:
        """Recompute the whole chain and the head; report the first bad record."""
        ...

    def transition(
        self, key: str, expected: Collection[str], state: str, entry: NewEntry
    ) -> Entry | None:
        """Compare-and-set on the state machine `key`, with its journal record: if its state
        is one of `expected` ("" = not started yet), append `entry` and set the state to
        `state`, atomically; else append nothing and return None. Of concurrent callers
        expecting the same state exactly one wins (DynamoDB later: a conditional write)."""
        ...

    def state(self, key: str) -> str:
        """The state machine's current state; "" when it has none yet."""
        ...

    def acquire_lock(
        self, environment: str, owner: str, ttl: timedelta, *, take_over: str | None = None
    ) -> Lock:
        """Take the environment's lock, or raise LockHeld naming the holder and expiry.

        An expired lock is taken over. Exactly one of several concurrent callers wins.
        `take_over` (why, journaled) takes it from a live holder: `abort` does, so that the
        running rollout loses it at its next heartbeat and starts nothing more.
        """
        ...

    def release_lock(self, lock: Lock) -> None:
        """Release the lock if we still hold it; never releases another holder's lock."""
        ...

    def refresh_lock(self, lock: Lock) -> Lock:
        """Extend the lock by its ttl from now; raise LockLost if someone else took it."""
        ...


class OpenJournal(JournalStore, Protocol):
    """A journal store as `open_journal` hands it out: used in a `with` block, then closed."""

    def close(self) -> None: ...

    def __enter__(self) -> OpenJournal: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
