"""`fleetpatch abort`: a rollout stopped mid-deployment is rolled back by ECS, journaled, and
its lock released (issue 8 item 6)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli.app import run
from fleetpatch.config import load_config
from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.sim import Simulator
from tests.inventory.helpers import render_config
from tests.rollout.helpers import start_canary_then_hang

LOCK_TTL = timedelta(minutes=2)


def running_digests(config_path: Path, service: str) -> set[str]:
    ecs = AwsSessions(load_config(config_path)).get("dev").ecs()
    arns = ecs.list_tasks(cluster="main", serviceName=service, desiredStatus="RUNNING")
    tasks = ecs.describe_tasks(cluster="main", tasks=arns["taskArns"])["tasks"]
    return {c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == "log_router"}


def test_abort_rolls_back_the_in_flight_deployment_and_frees_the_lock(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = render_config(sim, tmp_path / "fleetpatch.toml")
    path.write_text(f'journal = "{tmp_path / "journal.sqlite"}"\n\n' + path.read_text())
    config = load_config(path)
    before = running_digests(path, "api")
    with SqliteJournal(tmp_path / "journal.sqlite") as journal:
        start_canary_then_hang(sim, config, journal)
    capsys.readouterr()

    assert run(["--config", str(path), "abort", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert "main/api: rolled back (deployment ecs-svc/" in out
    sim.advance(600)
    assert running_digests(path, "api") == before

    with SqliteJournal(tmp_path / "journal.sqlite") as reread:
        entries = reread.entries(environment="dev")
        failed = [e for e in entries if e.kind is EntryKind.FAILED]
        assert [e.service for e in failed] == ["main/api"]
        assert failed[0].details["reason"].startswith("aborted by ")
        assert entries[-2].kind is EntryKind.HALTED  # then the lock's release
        assert reread.verify().ok
        # The lock is free: a new run may start at once.
        reread.release_lock(reread.acquire_lock("dev", "next", ttl=LOCK_TTL))
    # A second abort finds nothing in flight.
    assert run(["--config", str(path), "abort", "--env", "dev"]) == 0
    assert "has no deployment in flight" in capsys.readouterr().err
