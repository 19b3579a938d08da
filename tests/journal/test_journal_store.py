"""Appending and reading records; opening the file; where it lives."""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetpatch.errors import UserError
from fleetpatch.journal import (
    GENESIS_HASH,
    EntryKind,
    JournalCorrupt,
    JournalStore,
    NewEntry,
    SqliteJournal,
    default_journal_path,
    default_lock_owner,
)
from fleetpatch.journal.location import open_journal
from fleetpatch.journal.store import OpenJournal
from tests.journal.journal_helpers import T0, FakeClock, tamper

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def test_append_returns_the_stored_entry(store: OpenJournal) -> None:
    entry = store.append(
        NewEntry(
            kind=EntryKind.DEPLOYMENT_STARTED,
            environment="dev",
            service="api",
            sidecar="fluent-bit",
            digest_before=D1,
            target_digest=D2,
            deployment_id="ecs-svc/123",
            rollout_id="r1",
            actor="alice",
            details={"wave": 1, "mode": ("moving-tag",)},
        )
    )
    assert entry.seq == 1
    assert entry.prev_hash == GENESIS_HASH
    assert entry.timestamp == T0 and entry.timestamp.tzinfo is UTC
    assert entry.details == {"wave": 1, "mode": ["moving-tag"]}  # normalised through JSON
    assert store.entries() == [entry]


def test_records_chain_and_default_actor(store: OpenJournal) -> None:
    first = store.append(NewEntry(kind=EntryKind.PLAN, environment="dev"))
    second = store.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
    assert second.seq == 2 and second.prev_hash == first.hash
    assert first.kind is EntryKind.PLAN
    assert first.actor  # the OS user


def test_filters(store: OpenJournal, clock: FakeClock) -> None:
    store.append(NewEntry(kind=EntryKind.PLAN, environment="dev"))
    clock.advance(minutes=5)
    store.append(NewEntry(kind=EntryKind.PLAN, environment="prod"))
    store.append(NewEntry(kind=EntryKind.VERIFIED, environment="prod", service="api"))
    assert [e.seq for e in store.entries(environment="prod")] == [2, 3]
    assert [e.seq for e in store.entries(since=T0 + timedelta(minutes=1))] == [2, 3]
    assert [e.seq for e in store.entries(kind="plan")] == [1, 2]
    assert [e.seq for e in store.entries("prod", kind=EntryKind.VERIFIED)] == [3]
    with pytest.raises(UserError, match="unknown journal entry kind 'verfied'"):
        store.entries(kind="verfied")


def test_unknown_kind_and_bad_details_are_refused() -> None:
    with pytest.raises(ValueError):
        NewEntry(kind="deployed", environment="dev")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="JSON"):
        NewEntry(kind=EntryKind.NOTE, environment="dev", details={"x": float("nan")})


def test_records_persist_across_processes_views(journal_path: Path, clock: FakeClock) -> None:
    with SqliteJournal(journal_path, clock=clock) as first:
        first.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
    with SqliteJournal(journal_path, clock=clock) as second:
        assert second.append(NewEntry(kind=EntryKind.NOTE, environment="dev")).seq == 2
        assert second.verify().ok


def test_the_file_is_in_wal_mode(journal: SqliteJournal, journal_path: Path) -> None:
    conn = sqlite3.connect(journal_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_entries_cannot_be_updated_through_sqlite(
    journal: SqliteJournal, journal_path: Path
) -> None:
    journal.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
    conn = sqlite3.connect(journal_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE entries SET actor = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM entries")
    conn.close()


def test_append_refuses_to_extend_a_truncated_journal(
    journal: SqliteJournal, journal_path: Path
) -> None:
    for _ in range(3):
        journal.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
    tamper(journal_path, "DELETE FROM entries WHERE seq = 3")
    # Appending would chain onto seq 2 and move the head: the evidence would vanish.
    with pytest.raises(JournalCorrupt, match="does not match the head"):
        journal.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))


def test_each_store_satisfies_the_protocol(store: OpenJournal) -> None:
    protocol: JournalStore = store
    assert protocol.entries() == []


def test_timestamps_from_other_zones_are_stored_in_utc(journal_path: Path) -> None:
    paris = datetime(2026, 11, 27, 10, 0, tzinfo=UTC).astimezone()
    with SqliteJournal(journal_path, clock=lambda: paris) as store:
        entry = store.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
        assert entry.timestamp.tzinfo is UTC
        assert store.entries()[0].timestamp == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


# --- opening and locating the file -----------------------------------------------------------


def test_a_directory_is_refused_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory") as excinfo:
        SqliteJournal(tmp_path)
    assert "\n" not in str(excinfo.value)
    assert "FLEETPATCH_JOURNAL" in str(excinfo.value)


def test_an_unusable_path_is_refused(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(UserError, match="does not exist"):
        SqliteJournal(not_a_dir / "journal.sqlite")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match="cannot open journal"):
        SqliteJournal(garbage)


def test_location_prefers_config_then_env_then_xdg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("FLEETPATCH_JOURNAL", raising=False)
    assert default_journal_path(None) == tmp_path / "xdg" / "fleetpatch" / "journal.sqlite"
    assert (tmp_path / "xdg" / "fleetpatch").is_dir()  # parents created

    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "env" / "j.sqlite"))
    assert default_journal_path(None) == tmp_path / "env" / "j.sqlite"
    assert default_journal_path(tmp_path / "cfg" / "j.sqlite") == tmp_path / "cfg" / "j.sqlite"
    assert (tmp_path / "cfg").is_dir()


def test_location_defaults_to_local_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETPATCH_JOURNAL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = tmp_path / ".local" / "share" / "fleetpatch" / "journal.sqlite"
    assert default_journal_path(None) == expected
    with open_journal(None) as store:
        assert store.path == expected


def test_location_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory"):
        default_journal_path(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot create the journal's directory"):
        default_journal_path(blocker / "sub" / "journal.sqlite")


def test_threads_can_share_one_journal(store: OpenJournal) -> None:
    # The rollout engine waits for deployments in worker threads and journals from each.
    def write(worker: int) -> None:
        for i in range(20):
            store.append(
                NewEntry(kind=EntryKind.NOTE, environment="dev", details={"w": worker, "i": i})
            )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    assert [e.seq for e in store.entries()] == list(range(1, 81))
    assert store.verify().ok


def test_default_lock_owner_names_user_host_and_process() -> None:
    assert f"pid {os.getpid()}" in default_lock_owner()
