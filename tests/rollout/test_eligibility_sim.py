"""Eligibility at run time, on the simulator: someone else's deployment in progress is never
superseded, and a service that runs no task is never "verified on 0 tasks"."""

from __future__ import annotations

from pathlib import Path

from fleetpatch.aws.session import AwsSessions
from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.waits import PollPolicy
from fleetpatch.sim import Simulator
from tests.rollout.helpers import config_for, run_rollout
from tests.rollout.test_engine_sim import deployments_per_service


def test_someone_elses_deployment_in_progress_is_skipped_not_superseded(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    ecs = AwsSessions(config).get("dev").ecs()
    # A team's own release of api (the canary) is under way: no intent of fleetpatch's.
    answer = ecs.update_service(cluster="main", service="api", forceNewDeployment=True)
    theirs = next(d for d in answer["service"]["deployments"] if d["status"] == "PRIMARY")
    # The rollout starts right away: api's deployment is still in progress.
    result, _ = run_rollout(sim, config, journal)

    api = result.services["main/api"]
    assert api.status == "skipped"
    assert api.reason.startswith(f"deployment {theirs['id']} in progress since ")
    assert api.reason.endswith("not started by fleetpatch; run again when it finishes")
    assert not result.with_status("failed")
    # api got no deployment of fleetpatch's: the scenario's and theirs
    assert deployments_per_service(config)["main/api"] == 2
    started = {e.service for e in journal.entries() if e.kind is EntryKind.DEPLOYMENT_STARTED}
    assert "main/api" not in started


def test_a_service_with_no_tasks_says_so(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    ecs = AwsSessions(config).get("dev").ecs()
    ecs.update_service(cluster="main", service="worker", desiredCount=0)
    sim.advance(600)
    result, sink = run_rollout(sim, config, journal)

    assert result.ok, result.services
    worker = result.services["main/worker"]
    assert worker.status == "verified"
    assert worker.reason == "no tasks run (desired count 0): the next task starts on the target"
    event = next(e for e in sink.of("verified") if e.data["service"] == "main/worker")
    assert event.data["tasks"] == 0 and "no tasks run" in event.data["note"]


def test_a_start_aws_keeps_refusing_fails_that_service_in_time_and_the_run_halts(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    # UpdateService throttled for good: each pass tries the canary's start once more (a
    # throttled write was not applied), until the service's time is up.
    sim.set_faults(rate_limits={"UpdateService": {"burst": 1, "rate": 0.0001}})
    ecs = AwsSessions(config).get("dev").ecs()
    ecs.update_service(cluster="main", service="web", desiredCount=2)  # spends the one token
    options = RolloutOptions(poll=PollPolicy(interval=5, max_interval=20, timeout=120))
    result, sink = run_rollout(sim, config, journal, options=options)
    sim.set_faults()

    assert result.halted, result.services
    api = result.services["main/api"]
    assert api.status == "failed"
    assert api.reason == (
        "could not start the deployment within 2 minutes: "
        "UpdateService: ThrottlingException: Rate exceeded"
    )
    assert len(sink.of("start_unconfirmed")) >= 2, "tried again on later passes"
    kinds = [e.kind for e in journal.entries()]
    assert EntryKind.HALTED in kinds and EntryKind.DEPLOYMENT_STARTED not in kinds
