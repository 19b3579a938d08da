"""Lost answers (issue 9 item 3): ECS applies a change and the answer never arrives. fleetpatch
never retries UpdateService or RegisterTaskDefinition blindly: it re-reads, finds the
deployment its journaled intent produced (or, in pin mode, the revision it registered), and
goes on - no service gets two deployments for one target, nor a spare revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config
from fleetpatch.journal import EntryKind, NewEntry, SqliteJournal
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.pin import ROLLOUT_TAG, TARGET_TAG, pin_request, request_members
from fleetpatch.sim import Simulator
from tests.rollout.helpers import FAST_POLL, config_for, make_plan, run_rollout
from tests.rollout.test_engine_sim import SERVICES, deployments_per_service


def revisions(config: Config, environment: str = "dev") -> list[str]:
    """Every ACTIVE task definition revision of the environment."""
    ecs = AwsSessions(config).get(environment).ecs()
    pages = ecs.get_paginator("list_task_definitions").paginate()
    return [arn for page in pages for arn in page["taskDefinitionArns"]]


def current_revisions(config: Config, environment: str = "dev") -> dict[str, dict[str, Any]]:
    """service key -> DescribeTaskDefinition (with tags) of the revision it runs now."""
    ecs = AwsSessions(config).get(environment).ecs()
    found = {}
    for cluster_arn in ecs.list_clusters()["clusterArns"]:
        cluster = cluster_arn.rsplit("/", 1)[-1]
        for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
            if not page["serviceArns"]:
                continue
            for start in range(0, len(page["serviceArns"]), 10):
                batch = page["serviceArns"][start : start + 10]
                for service in ecs.describe_services(cluster=cluster, services=batch)["services"]:
                    td = ecs.describe_task_definition(
                        taskDefinition=service["taskDefinition"], include=["TAGS"]
                    )
                    found[f"{cluster}/{service['serviceName']}"] = dict(td)
    return found


def owner(described: dict[str, Any]) -> dict[str, str]:
    tags = {t["key"]: t["value"] for t in described.get("tags", [])}
    return {k: v for k, v in tags.items() if k.startswith("fleetpatch:")}


def test_answers_lost_after_the_change_never_make_a_second_deployment(
    talk_sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(talk_sim, tmp_path)
    lost = 0
    # 36 services in three environments; stg in pin mode (RegisterTaskDefinition too).
    for environment, mode in (("dev", "tag"), ("stg", "pin"), ("prod", "tag")):
        before = deployments_per_service(config, environment)
        revisions_before = revisions(config, environment)
        talk_sim.set_faults(lost_answer_rate=0.05, seed=3)
        result, sink = run_rollout(talk_sim, config, journal, environment, mode)
        talk_sim.set_faults()

        assert result.ok, {k: r.reason for k, r in result.services.items()}
        assert len(result.with_status("verified")) == 12
        after = deployments_per_service(config, environment)
        assert {k: after[k] - before[k] for k in after} == dict.fromkeys(after, 1)
        started = [
            e.service
            for e in journal.entries(environment=environment)
            if e.kind is EntryKind.DEPLOYMENT_STARTED
        ]
        assert sorted(started) == sorted(after), "journaled as started once per service"
        # Pin mode: one revision registered per service, each the one it runs, no spare.
        new = set(revisions(config, environment)) - set(revisions_before)
        expected = len(after) if mode == "pin" else 0
        assert len(new) == expected, "one pinned revision per service, no spare"
        if mode == "pin":
            running = current_revisions(config, environment)
            assert {td["taskDefinition"]["taskDefinitionArn"] for td in running.values()} == new
            assert all(owner(td)[ROLLOUT_TAG] == result.rollout_id for td in running.values())
        # An UpdateService whose answer was lost had been applied: that deployment is found
        # and followed (adopted), not started again.
        lost_updates = {
            e.data["service"]
            for e in sink.of("start_unconfirmed")
            if e.data["reason"].startswith("UpdateService: ServerException")
        }
        adopted = {e.data["service"] for e in sink.of("deployment_started") if e.data["adopted"]}
        assert lost_updates <= adopted
        lost += len(lost_updates)
    assert lost >= 1, "the fault fired: some UpdateService answers were lost"
    assert journal.verify().ok


# With this seed, the first state-changing call the simulator serves loses its answer and the
# next eleven don't (random.Random(72): 0.07, then none below 0.3): with one start at a time
# (workers=1) the first is the first service's RegisterTaskDefinition.
LOSE_THE_FIRST = {"lost_answer_rate": 0.3, "seed": 72}


def test_a_lost_register_task_definition_answer_leaves_no_spare_revision(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    before = set(revisions(config))
    deployments_before = deployments_per_service(config)
    sim.set_faults(**LOSE_THE_FIRST)
    options = RolloutOptions(poll=FAST_POLL, workers=1)
    result, sink = run_rollout(sim, config, journal, "dev", "pin", options=options)
    sim.set_faults()

    lost = [
        e.data["service"]
        for e in sink.of("start_unconfirmed")
        if e.data["reason"].startswith("RegisterTaskDefinition: ServerException")
    ]
    assert len(lost) == 1, "the first RegisterTaskDefinition answer was lost"
    assert result.ok, {k: r.reason for k, r in result.services.items()}
    assert sorted(r.key for r in result.with_status("verified")) == list(SERVICES)
    # exactly one revision per service (the lost one reused, no spare), one deployment each
    new = set(revisions(config)) - before
    assert len(new) == len(SERVICES)
    running = current_revisions(config)
    assert {td["taskDefinition"]["taskDefinitionArn"] for td in running.values()} == new
    for described in running.values():
        assert owner(described)[ROLLOUT_TAG] == result.rollout_id
        assert owner(described)[TARGET_TAG] == result.plan.target.digest
    after = deployments_per_service(config)
    assert {k: after[k] - deployments_before[k] for k in after} == dict.fromkeys(after, 1)
    started = {
        e.service: e.details
        for e in journal.entries(environment="dev")
        if e.kind is EntryKind.DEPLOYMENT_STARTED
    }
    assert started[lost[0]].get("task_definition_reused") is True
    assert not any(d.get("task_definition_reused") for k, d in started.items() if k != lost[0])


def test_a_run_killed_after_register_task_definition_is_continued_without_a_spare(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    """kill -9 between RegisterTaskDefinition and UpdateService: the journal holds the dead
    run's intents and nothing after them; its revisions exist. The rerun (another rollout id)
    finds and deploys them instead of registering more."""
    config = config_for(sim, tmp_path)
    plan = make_plan(config, mode="pin")
    ecs = AwsSessions(config).get("dev").ecs()
    killed_registered = {}
    for step in [s for wave in plan.waves for s in wave.services]:
        journal.append(
            NewEntry(
                kind=EntryKind.DEPLOYMENT_REQUESTED,
                environment="dev",
                actor="killed",
                service=step.key,
                sidecar=plan.sidecar,
                target_digest=plan.target.digest,
                rollout_id="r-killed",
                details={"mode": "pin"},
            )
        )
        described = ecs.describe_task_definition(
            taskDefinition=step.task_definition, include=["TAGS"]
        )
        request = pin_request(
            dict(described),
            step.container,
            plan.target.digest,
            members=request_members(ecs),
            others=dict(step.others),
            rollout_id="r-killed",
        )
        answer = ecs.register_task_definition(**request)
        killed_registered[step.key] = answer["taskDefinition"]["taskDefinitionArn"]
    assert sorted(killed_registered) == list(SERVICES)
    before = set(revisions(config))
    deployments_before = deployments_per_service(config)

    result, _ = run_rollout(sim, config, journal, "dev", "pin", the_plan=plan)

    assert result.ok, {k: r.reason for k, r in result.services.items()}
    assert set(revisions(config)) == before, "no revision registered: the dead run's reused"
    running = current_revisions(config)
    assert {k: td["taskDefinition"]["taskDefinitionArn"] for k, td in running.items()} == (
        killed_registered
    )
    after = deployments_per_service(config)
    assert {k: after[k] - deployments_before[k] for k in after} == dict.fromkeys(after, 1)
