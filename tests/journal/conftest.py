"""Fixtures for the journal tests: a journal in a temp dir with a settable clock; the same
in DynamoDB and S3 on the simulator; `store`, each of the two in turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetpatch.journal import SqliteJournal
from fleetpatch.journal.store import OpenJournal
from fleetpatch.sim import Simulator
from tests.journal.aws_journal import EMPTY_SCENARIO, AwsJournalWorld, environment
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


@pytest.fixture
def aws_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsJournalWorld]:
    """The simulator with an empty journal table and anchor bucket, and the environment
    variables that point the standard AWS credential chain at it."""
    with Simulator(EMPTY_SCENARIO) as sim:
        for name, value in environment(sim).items():
            monkeypatch.setenv(name, value)
        world = AwsJournalWorld(sim)
        world.create_table()
        world.create_bucket()
        yield world


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(
    request: pytest.FixtureRequest, journal_path: Path, clock: FakeClock
) -> Iterator[OpenJournal]:
    """An empty journal in each store: the behaviour both must share."""
    if request.param == "sqlite":
        with SqliteJournal(journal_path, clock=clock) as sqlite_store:
            yield sqlite_store
        return
    world: AwsJournalWorld = request.getfixturevalue("aws_world")
    with world.open(clock) as dynamodb_store:
        yield dynamodb_store
