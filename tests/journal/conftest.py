"""Fixtures for the journal tests: a journal in a temp dir with a settable clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetpatch.journal import SqliteJournal
from tests.journal.journal_helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def journal(journal_path: Path, clock: FakeClock) -> Iterator[SqliteJournal]:
    with SqliteJournal(journal_path, clock=clock) as store:
        yield store
