"""A run killed between UpdateService and journaling `deployment_started`, deterministically.

The killed run journaled its intent (`deployment_requested`) and called UpdateService; its
deployment completes before the rerun reads the fleet, so the rerun finds the service already
on the target. The journal must still show that deployment as started (once, with ECS's
deployment id): it appeared in the window after fleetpatch's intent. A deployment nobody
journaled an intent for is someone else's: never journaled as fleetpatch's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config
from fleetpatch.journal import EntryKind, NewEntry, SqliteJournal
from fleetpatch.journal.model import Entry
from fleetpatch.rollout.executor import Rollout, RolloutOptions
from fleetpatch.rollout.plan import Plan
from fleetpatch.sim import Simulator
from tests.rollout.helpers import FAST_POLL, SimClock, config_for, make_plan, run_rollout
from tests.rollout.test_engine_sim import SERVICES, deployments_per_service


@pytest.fixture
def journal(sim: Simulator, tmp_path: Path) -> Iterator[SqliteJournal]:
    # Journal timestamps in simulated time, as ECS's createdAt: the two are compared.
    with SqliteJournal(tmp_path / "journal.sqlite", clock=sim.clock.now) as store:
        yield store


def journal_killed_runs_plan(journal: SqliteJournal, plan: Plan) -> None:
    """What the killed run got to journal: its plan and its intents, not ECS's answers."""
    for kind, service in [(EntryKind.PLAN, None)] + [
        (EntryKind.DEPLOYMENT_REQUESTED, key) for key in SERVICES
    ]:
        journal.append(
            NewEntry(
                kind=kind,
                environment=plan.environment,
                actor="killed",
                service=service,
                sidecar=plan.sidecar,
                target_digest=plan.target.digest,
                rollout_id="r-killed",
                details={"mode": plan.mode},
            )
        )


def force_new_deployments(config: Config) -> dict[str, str]:
    """UpdateService forceNewDeployment, as the killed run did; service key -> deployment id."""
    ecs = AwsSessions(config).get("dev").ecs()
    started = {}
    for key in SERVICES:
        cluster, service = key.split("/")
        answer = ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)
        primary = next(d for d in answer["service"]["deployments"] if d["status"] == "PRIMARY")
        started[key] = primary["id"]
    return started


def advance_until_completed(sim: Simulator, config: Config) -> None:
    ecs = AwsSessions(config).get("dev").ecs()
    for _ in range(200):
        described = ecs.describe_services(cluster="main", services=[s[5:] for s in SERVICES])
        deployments = [s["deployments"] for s in described["services"]]
        if all(len(d) == 1 and d[0]["rolloutState"] == "COMPLETED" for d in deployments):
            return
        sim.advance(10)
    raise AssertionError("the deployments never completed")


def entries_of(journal: SqliteJournal, kind: EntryKind) -> list[Entry]:
    return [e for e in journal.entries(environment="dev") if e.kind is kind]


def run_plan(sim: Simulator, config: Config, journal: SqliteJournal, plan: Plan) -> Any:
    aws = AwsSessions(config).get("dev")
    options = RolloutOptions(poll=FAST_POLL)
    return Rollout(plan, aws.ecs(), aws.ecr(), journal, clock=SimClock(sim), options=options).run()


@pytest.mark.parametrize("found_by", ["plan", "wave"])
def test_a_completed_unjournaled_deployment_is_journaled_as_started(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal, found_by: str
) -> None:
    config = config_for(sim, tmp_path)
    journal_killed_runs_plan(journal, make_plan(config))
    sim.advance(1)
    ids = force_new_deployments(config)
    if found_by == "plan":
        # Completed before the rerun planned: the plan finds the services done.
        advance_until_completed(sim, config)
        rerun = make_plan(config)
        assert {s.key for s in rerun.done} == set(SERVICES)
    else:
        # Still deploying when the rerun planned, completed before its wave read the fleet.
        rerun = make_plan(config)
        assert not rerun.done
        advance_until_completed(sim, config)
    result = run_plan(sim, config, journal, rerun)

    assert result.ok, result.services
    started = entries_of(journal, EntryKind.DEPLOYMENT_STARTED)
    assert {e.service: e.deployment_id for e in started} == ids
    assert len(started) == len(SERVICES)
    for entry in started:
        assert entry.details["adopted"] is True
        assert entry.details["found"] == "created after fleetpatch's request"
    verified = entries_of(journal, EntryKind.VERIFIED)
    assert {e.service: e.deployment_id for e in verified} == ids
    # each service's start is journaled before its verification
    started_seq = {e.service: e.seq for e in started}
    assert all(started_seq[e.service] < e.seq for e in verified)
    # no new ECS deployment: the scenario's own and the killed run's
    assert deployments_per_service(config) == dict.fromkeys(SERVICES, 2)

    # a second rerun adds nothing
    run_rollout(sim, config, journal)
    assert len(entries_of(journal, EntryKind.DEPLOYMENT_STARTED)) == len(SERVICES)


def test_a_service_on_the_target_before_any_plan_gets_no_deployment_started(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    # Someone else moved the fleet to the target before fleetpatch ever planned it.
    force_new_deployments(config)
    advance_until_completed(sim, config)
    sim.advance(1)
    result, _ = run_rollout(sim, config, journal)

    assert result.ok, result.services
    assert sorted(r.key for r in result.with_status("verified")) == list(SERVICES)
    assert entries_of(journal, EntryKind.DEPLOYMENT_STARTED) == []
    assert deployments_per_service(config) == dict.fromkeys(SERVICES, 2)
