"""`SqliteJournal`: the journal and the environment locks in one local SQLite file.

Why SQLite: one file, no server, and real transactions shared safely by several processes on
one machine. Every write runs in `BEGIN IMMEDIATE`, which takes SQLite's write lock at the
start of the transaction: two processes appending (or racing for a lock) are serialised, and
each one reads the chain's end and writes the next record atomically. WAL mode lets readers
(`fleetpatch history`) proceed while a rollout writes.

The tables:
- entries: one row per record, columns = chain.RECORD_FIELDS; triggers refuse UPDATE and
  DELETE, so only a deliberate edit (dropping the triggers) can change history, and `verify`
  then reports it.
- head: one row, the last seq and hash, updated with every append: the anchor that reveals a
  truncated tail.
- locks: one row per locked environment.
- states: one row per state machine (a change request: PENDING -> APPROVED -> STARTED), the
  compare-and-set cell behind `transition`. The entries stay the evidence; this table only
  makes "exactly one caller wins" cheap to decide inside one write transaction.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from fleetpatch.errors import UserError
from fleetpatch.journal.chain import (
    RECORD_FIELDS,
    Head,
    VerifyResult,
    canonical_json,
    entry_to_record,
    format_timestamp,
    record_hash,
    record_to_entry,
    verify_records,
)
from fleetpatch.journal.model import (
    GENESIS_HASH,
    Entry,
    EntryKind,
    JournalCorrupt,
    Lock,
    LockLost,
    NewEntry,
    lock_acquisition,
)

SCHEMA_VERSION = 1
# How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 30.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        timestamp TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        environment TEXT NOT NULL,
        service TEXT,
        sidecar TEXT,
        digest_before TEXT,
        digest_after TEXT,
        target_digest TEXT,
        deployment_id TEXT,
        rollout_id TEXT,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS entries_by_environment ON entries (environment, seq)",
    """CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
        BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
        BEGIN SELECT RAISE(ABORT, 'journal entries are append-only'); END""",
    """CREATE TABLE IF NOT EXISTS head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS locks (
        environment TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        token TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS states (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        seq INTEGER NOT NULL
    )""",
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteJournal:
    """A `JournalStore` in a SQLite file. Safe to share between threads and processes."""

    def __init__(self, path: Path, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        # Injectable so tests (and the simulator's scaled time) can move lock expiry.
        self._clock = clock
        # One connection per instance; the mutex lets rollout worker threads share it.
        self._mutex = threading.Lock()
        self._conn = _open(path)

    # --- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- records ---------------------------------------------------------------------------

    def append(self, entry: NewEntry) -> Entry:
        with self._transaction() as conn:
            return self._append(conn, entry)

    def entries(
        self,
        environment: str | None = None,
        since: datetime | None = None,
        kind: str | None = None,
    ) -> list[Entry]:
        where: list[str] = []
        params: list[Any] = []
        if environment is not None:
            where.append("environment = ?")
            params.append(environment)
        if since is not None:
            # Stored timestamps are fixed-width UTC strings: string order is time order.
            where.append("timestamp >= ?")
            params.append(format_timestamp(since))
        if kind is not None:
            where.append("kind = ?")
            params.append(_parse_kind(kind).value)
        sql = "SELECT * FROM entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute(sql + " ORDER BY seq", params).fetchall()
        return [self._parse(row) for row in rows]

    def verify(self) -> VerifyResult:
        # One read transaction: a consistent snapshot even while another process appends.
        with self._transaction("DEFERRED") as conn:
            rows = conn.execute("SELECT * FROM entries ORDER BY seq").fetchall()
            head_row = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
        head = Head(head_row["seq"], head_row["hash"]) if head_row else None
        return verify_records([_row_to_record(row) for row in rows], head)

    # --- state machines --------------------------------------------------------------------

    def transition(
        self, key: str, expected: Collection[str], state: str, entry: NewEntry
    ) -> Entry | None:
        with self._transaction() as conn:
            row = conn.execute("SELECT state FROM states WHERE key = ?", (key,)).fetchone()
            current = row["state"] if row is not None else ""
            if current not in expected:
                return None
            appended = self._append(conn, entry)
            conn.execute(
                "INSERT OR REPLACE INTO states (key, state, seq) VALUES (?, ?, ?)",
                (key, state, appended.seq),
            )
            return appended

    def state(self, key: str) -> str:
        with self._transaction("DEFERRED") as conn:
            row = conn.execute("SELECT state FROM states WHERE key = ?", (key,)).fetchone()
        return str(row["state"]) if row is not None else ""

    # --- locks -----------------------------------------------------------------------------

    def acquire_lock(
        self, environment: str, owner: str, ttl: timedelta, *, take_over: str | None = None
    ) -> Lock:
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive")
        with self._transaction() as conn:
            now = self._now()
            held = conn.execute(
                "SELECT owner, expires_at FROM locks WHERE environment = ?", (environment,)
            ).fetchone()
            holder = (
                (str(held["owner"]), datetime.fromisoformat(held["expires_at"]))
                if held is not None
                else None
            )
            details = lock_acquisition(environment, owner, holder, now, take_over)
            lock = Lock(
                environment=environment,
                owner=owner,
                token=uuid.uuid4().hex,
                acquired_at=now,
                expires_at=now + ttl,
                ttl=ttl,
            )
            conn.execute(
                "INSERT OR REPLACE INTO locks VALUES (?, ?, ?, ?, ?)",
                (
                    environment,
                    owner,
                    lock.token,
                    format_timestamp(now),
                    format_timestamp(lock.expires_at),
                ),
            )
            details["expires_at"] = format_timestamp(lock.expires_at)
            self._append(
                conn, NewEntry(kind=EntryKind.LOCK, environment=environment, details=details)
            )
            return lock

    def release_lock(self, lock: Lock) -> None:
        with self._transaction() as conn:
            released = conn.execute(
                "DELETE FROM locks WHERE environment = ? AND token = ?",
                (lock.environment, lock.token),
            ).rowcount
            if released:
                details = {"action": "released", "owner": lock.owner}
                entry = NewEntry(kind=EntryKind.LOCK, environment=lock.environment, details=details)
                self._append(conn, entry)

    def refresh_lock(self, lock: Lock) -> Lock:
        with self._transaction() as conn:
            held = conn.execute(
                "SELECT owner, token FROM locks WHERE environment = ?", (lock.environment,)
            ).fetchone()
            if held is None or held["token"] != lock.token:
                raise LockLost(lock, held["owner"] if held else None)
            refreshed = dataclasses.replace(lock, expires_at=self._now() + lock.ttl)
            conn.execute(
                "UPDATE locks SET expires_at = ? WHERE environment = ?",
                (format_timestamp(refreshed.expires_at), lock.environment),
            )
            return refreshed

    # --- internals -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """IMMEDIATE for writes (take the write lock up front), DEFERRED for reads."""
        with self._mutex:
            self._conn.execute(f"BEGIN {mode}")
            try:
                yield self._conn
                # Inside the try: a failed COMMIT must not leave the transaction open.
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def _append(self, conn: sqlite3.Connection, new: NewEntry) -> Entry:
        """Append inside the caller's write transaction, so a lock change and its record commit
        together."""
        last = conn.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
        last_pair = (last["seq"], last["hash"]) if last else None
        head_pair = (head["seq"], head["hash"]) if head else None
        if last_pair != head_pair:
            # Appending now would chain onto a truncated tail and erase the evidence.
            raise JournalCorrupt(
                f"journal {self.path}: the last record {last_pair and last_pair[0]} does not "
                f"match the head {head_pair and head_pair[0]}; run `fleetpatch journal verify` "
                "and keep the file as evidence before starting a new journal"
            )
        fields = {f.name: getattr(new, f.name) for f in dataclasses.fields(new)}
        unhashed = Entry(
            **fields,
            seq=last["seq"] + 1 if last else 1,
            timestamp=self._now(),
            prev_hash=last["hash"] if last else GENESIS_HASH,
            hash="",
        )
        entry = dataclasses.replace(unhashed, hash=record_hash(entry_to_record(unhashed)))
        record = entry_to_record(entry)
        record["details"] = canonical_json(record["details"])
        columns = ", ".join(RECORD_FIELDS)
        marks = ", ".join("?" for _ in RECORD_FIELDS)
        conn.execute(
            f"INSERT INTO entries ({columns}) VALUES ({marks})",
            [record[name] for name in RECORD_FIELDS],
        )
        conn.execute(
            "INSERT OR REPLACE INTO head (id, seq, hash) VALUES (1, ?, ?)",
            (entry.seq, entry.hash),
        )
        return entry

    def _parse(self, row: sqlite3.Row) -> Entry:
        try:
            return record_to_entry(_row_to_record(row))
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalCorrupt(
                f"journal {self.path}: record {row['seq']} is unreadable ({exc}); "
                "run `fleetpatch journal verify`"
            ) from exc


def _row_to_record(row: sqlite3.Row) -> dict[str, Any]:
    record = {name: row[name] for name in RECORD_FIELDS}
    text = record["details"]
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return record  # left as raw text: it can't match the hash of a dict
    # Only the canonical text counts: a re-spaced or re-ordered edit is still an edit.
    if canonical_json(parsed) == text:
        record["details"] = parsed
    return record


def _parse_kind(kind: str) -> EntryKind:
    try:
        return EntryKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in EntryKind)
        raise UserError(f"unknown journal entry kind '{kind}'; use one of: {known}") from None


def _open(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the journal; every failure becomes a one-line UserError."""
    fix = "set `journal` in fleetpatch.toml or FLEETPATCH_JOURNAL to a writable file path"
    if path.is_dir():
        raise UserError(f"journal {path} is a directory, not a file; {fix}")
    if not path.parent.is_dir():
        raise UserError(
            f"journal {path}: directory {path.parent} does not exist; create it or {fix}"
        )
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise UserError(f"cannot open journal {path}: {exc}; {fix}") from exc
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed record survives a power loss, not merely a process crash.
        conn.execute("PRAGMA synchronous=FULL")
        _create_schema(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise UserError(f"cannot open journal {path}: {exc}; {fix}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _create_schema(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserError(
                f"journal {path} was written by a newer fleetpatch (schema {version}); "
                "upgrade fleetpatch"
            )
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
