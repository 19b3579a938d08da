"""The executor against the in-process simulator (real HTTP, simulated time)."""

from __future__ import annotations

from pathlib import Path

from fleetpatch.journal import SqliteJournal
from fleetpatch.sim import Simulator
from tests.rollout.helpers import config_for, run_rollout


def test_moving_tag_happy_path(sim: Simulator, tmp_path: Path) -> None:
    config = config_for(sim, tmp_path)
    with SqliteJournal(tmp_path / "j.sqlite") as journal:
        result, sink = run_rollout(sim, config, journal)
        print(sink.kinds())
        for e in sink.events:
            print(e.kind, e.data)
        assert result.ok
        assert len(result.with_status("verified")) == 3
        assert journal.verify().ok
