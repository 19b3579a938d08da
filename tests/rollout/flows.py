"""Helpers for promote/rollback/pre-flight tests: a Runner on the simulator's time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetpatch.config import Config, load_config
from fleetpatch.journal import SqliteJournal
from fleetpatch.rollout.events import ListSink
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.runner import Runner
from fleetpatch.sim import Simulator
from tests.inventory.helpers import render_config
from tests.rollout.helpers import FAST_POLL, SimClock


def sim_config(sim: Simulator, tmp_path: Path, policy: str = "", **kwargs: Any) -> Config:
    path = render_config(sim, tmp_path / "fleetpatch.toml", **kwargs)
    if policy:
        path.write_text(path.read_text(encoding="utf-8") + f"\n[policy]\n{policy}\n")
    return load_config(path)


def sim_journal(sim: Simulator, tmp_path: Path) -> SqliteJournal:
    """Journal timestamps in simulated time, so soak times pass when the simulator advances."""
    return SqliteJournal(tmp_path / "journal.sqlite", clock=sim.clock.now)


def sim_runner(sim: Simulator, config: Config, journal: SqliteJournal, **kwargs: Any) -> Runner:
    return Runner(
        config,
        journal,
        clock=SimClock(sim),
        now=sim.clock.now,
        sink=kwargs.pop("sink", ListSink()),
        options=RolloutOptions(poll=FAST_POLL),
        **kwargs,
    )


def sidecar_digests(sim: Simulator, runner: Runner, environment: str) -> dict[str, set[str]]:
    """cluster/service -> the digests its sidecar tasks run now."""
    env = runner.environment(environment)
    return {
        f"{s.cluster}/{s.service}": {c.digest for r in s.sidecars for c in r.running}
        for s in env.services
    }


def digest_of(sim: Simulator, tag: str) -> str:
    return next(d for d, (_, _, first) in sim.images.items() if first == tag)
