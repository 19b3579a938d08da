"""`fleetpatch abort`: a rollout stopped mid-deployment is rolled back by ECS, journaled, and
its lock released (issue 8 item 6)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli.app import run
from fleetpatch.config import load_config
from fleetpatch.journal import EntryKind, SqliteJournal, default_lock_owner
from fleetpatch.rollout.executor import Rollout, RolloutOptions
from fleetpatch.sim import Simulator
from tests.inventory.helpers import render_config
from tests.rollout.helpers import FAST_POLL, SimClock, make_plan
from tests.rollout.test_engine_sim import Crash, CrashAfter

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
    aws = AwsSessions(config).get("dev")
    journal = SqliteJournal(tmp_path / "journal.sqlite")
    lock = journal.acquire_lock("dev", default_lock_owner(), ttl=LOCK_TTL)
    # The canary's deployment is started, then the run is stopped in its tracks while the
    # deployment is still in flight (it still holds the lock: a hung or remote run).
    with pytest.raises(Crash):
        Rollout(
            make_plan(config),
            aws.ecs(),
            aws.ecr(),
            journal,
            lock=lock,
            sink=CrashAfter("deployment_started"),
            clock=SimClock(sim),
            options=RolloutOptions(poll=FAST_POLL),
        ).run()
    journal.close()
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
