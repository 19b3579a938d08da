"""The executor against the in-process simulator: real HTTP, simulated time (SimClock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config
from fleetpatch.inventory.collect import collect
from fleetpatch.journal import EntryKind, NewEntry, SqliteJournal
from fleetpatch.rollout.events import ListSink
from fleetpatch.rollout.executor import Rollout, RolloutOptions
from fleetpatch.rollout.pin import request_members
from fleetpatch.sim import Simulator
from tests.rollout.helpers import (
    FAST_POLL,
    Crash,
    CrashAfter,
    SimClock,
    config_for,
    make_plan,
    run_rollout,
)

SERVICES = ("main/api", "main/web", "main/worker")


def running_digests(config: Config, environment: str = "dev") -> dict[str, set[str]]:
    snapshot = collect(config, [environment])
    return {
        f"{service.cluster}/{service.service}": {
            c.digest for r in service.sidecars for c in r.running
        }
        for service in snapshot.environments[0].services
    }


def deployments_per_service(config: Config, environment: str = "dev") -> dict[str, int]:
    """How many service deployments ECS has for each service (the scenario's own is one)."""
    ecs = AwsSessions(config).get(environment).ecs()
    counts = {}
    for cluster_arn in ecs.list_clusters()["clusterArns"]:
        cluster = cluster_arn.rsplit("/", 1)[-1]
        for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
            for arn in page["serviceArns"]:
                name = arn.rsplit("/", 1)[-1]
                found = ecs.list_service_deployments(cluster=cluster, service=name)
                counts[f"{cluster}/{name}"] = len(found["serviceDeployments"])
    return counts


@pytest.fixture
def journal(tmp_path: Path) -> Any:
    with SqliteJournal(tmp_path / "journal.sqlite") as store:
        yield store


def test_moving_tag_happy_path(sim: Simulator, tmp_path: Path, journal: SqliteJournal) -> None:
    config = config_for(sim, tmp_path)
    target = sim.images and make_plan(config).target.digest
    before = running_digests(config)
    result, sink = run_rollout(sim, config, journal)

    assert result.ok, result.services
    assert sorted(r.key for r in result.with_status("verified")) == list(SERVICES)
    assert running_digests(config) == {key: {target} for key in SERVICES}
    assert deployments_per_service(config) == dict.fromkeys(SERVICES, 2)
    # the canary wave ends before the next one starts
    kinds = sink.kinds()
    assert kinds.index("wave_finished") < kinds.index("wave_started", 2)
    # the journal: every record of the run carries the rollout id, actor and target
    entries = [e for e in journal.entries(environment="dev") if e.rollout_id == result.rollout_id]
    assert [e.kind for e in entries].count(EntryKind.DEPLOYMENT_STARTED) == 3
    verified = [e for e in entries if e.kind is EntryKind.VERIFIED]
    assert {e.service for e in verified} == set(SERVICES)
    for entry in verified:
        assert entry.digest_before == before[entry.service].pop()
        assert entry.digest_after == target
        assert entry.deployment_id and entry.deployment_id.startswith("ecs-svc/")
        assert entry.actor
    assert journal.verify().ok

    # rerun: nothing to do, nothing deployed again
    again, _ = run_rollout(sim, config, journal)
    assert again.ok and not again.with_status("verified")
    assert deployments_per_service(config) == dict.fromkeys(SERVICES, 2)


def test_pin_mode_changes_only_the_sidecar_image(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    ecs = AwsSessions(config).get("dev").ecs()
    old = ecs.describe_task_definition(taskDefinition="api:1", include=["TAGS"])["taskDefinition"]
    app_before = container_digest(ecs, "api", "app")
    result, _ = run_rollout(sim, config, journal, mode="pin", version="1.1")
    assert result.ok, result.services
    target = make_plan(config).target.digest

    service = ecs.describe_services(cluster="main", services=["api"])["services"][0]
    new = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert new["revision"] == old["revision"] + 1
    members = request_members(ecs)
    strip = lambda td: {k: v for k, v in td.items() if k in members}  # noqa: E731
    expected = strip(old)
    expected["containerDefinitions"][1]["image"] = (
        old["containerDefinitions"][1]["image"].split(":latest")[0] + "@" + target
    )
    # The app is pinned to the digest its tasks ran: nothing but the sidecar can change.
    app = old["containerDefinitions"][0]["image"]
    expected["containerDefinitions"][0]["image"] = app.split(":")[0] + "@" + app_before
    assert strip(new) == expected
    assert running_digests(config) == {key: {target} for key in SERVICES}
    assert container_digest(ecs, "api", "app") == app_before
    started = [e for e in journal.entries() if e.kind is EntryKind.DEPLOYMENT_STARTED]
    assert all(e.details["task_definition"].endswith(":2") for e in started)


def container_digest(ecs: Any, service: str, container: str) -> str:
    """The one digest every running task of the service runs in `container`."""
    arns = ecs.list_tasks(cluster="main", serviceName=service, desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster="main", tasks=arns)["tasks"]
    (digest,) = {c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == container}
    return str(digest)


def test_failing_canary_halts_and_the_rest_keeps_its_digest(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    before = running_digests(config)
    sim.fail_service("dev", "main", "api", "CannotStartContainerError: fluent-bit config error")
    result, sink = run_rollout(sim, config, journal)

    assert result.halted and not result.ok
    assert [r.key for r in result.with_status("failed")] == ["main/api"]
    failed = result.services["main/api"]
    assert "circuit breaker" in failed.reason
    assert failed.details["rolled_back"] is True
    assert any("fluent-bit config error" in r for r in failed.details["stopped_reasons"])
    assert failed.details["events"], "ECS's own events are reported"
    # later waves never started: web and worker have only the scenario's deployment
    assert sink.kinds().count("wave_started") == 1
    assert deployments_per_service(config) == {"main/api": 2, "main/web": 1, "main/worker": 1}
    sim.advance(600)  # let the rollback finish
    assert running_digests(config) == before
    kinds = [e.kind for e in journal.entries(environment="dev")]
    assert EntryKind.HALTED in kinds and EntryKind.FAILED in kinds

    # a rerun doesn't deploy the failed service again unless asked to
    again, _ = run_rollout(sim, config, journal)
    assert again.halted and "--retry-failed" in again.services["main/api"].reason
    assert deployments_per_service(config)["main/api"] == 2


def test_the_tag_moved_since_the_plan(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    the_plan = make_plan(config)
    sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"]})
    aws = AwsSessions(config).get("dev")
    sink = ListSink()
    result = Rollout(the_plan, aws.ecs(), aws.ecr(), journal, sink=sink, clock=SimClock(sim)).run()
    assert result.halted
    assert "the tag moved since the plan" in result.halt_reason
    assert deployments_per_service(config) == dict.fromkeys(SERVICES, 1)


def test_rerun_waits_for_deployments_instead_of_starting_new_ones(
    sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(sim, tmp_path)
    aws = AwsSessions(config).get("dev")
    # A run dies right after starting the canary's deployment (journaled) ...
    with pytest.raises(Crash):
        Rollout(
            make_plan(config),
            aws.ecs(),
            aws.ecr(),
            journal,
            sink=CrashAfter("deployment_started"),
            clock=SimClock(sim),
            options=RolloutOptions(poll=FAST_POLL),
        ).run()
    # ... and another run journaled its intent for web, then died before journaling ECS's
    # answer: the deployment ECS created right after the intent is fleetpatch's.
    the_plan = make_plan(config)
    journal.append(
        NewEntry(
            kind=EntryKind.DEPLOYMENT_REQUESTED,
            environment="dev",
            actor="killed",
            service="main/web",
            sidecar=the_plan.sidecar,
            target_digest=the_plan.target.digest,
            rollout_id="r-killed",
            details={"aws_time": sim.clock.now().isoformat()},
        )
    )
    aws.ecs().update_service(cluster="main", service="web", forceNewDeployment=True)
    sim.advance(5)

    result, sink = run_rollout(sim, config, journal)
    assert result.ok, result.services
    started = {e.data["service"] for e in sink.of("deployment_started") if not e.data["adopted"]}
    adopted = {e.data["service"] for e in sink.of("deployment_started") if e.data["adopted"]}
    assert started == {"main/worker"}
    # web's deployment finished while the canary ran: found on the target and recorded
    assert "main/api" in adopted
    assert result.services["main/web"].status == "verified"
    assert deployments_per_service(config) == dict.fromkeys(SERVICES, 2)
    assert journal.verify().ok


def test_throttling_and_server_errors_converge(
    talk_sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    # The product's own retry configuration, backoff and pacing included (nothing patched):
    # reads are retried by botocore, writes never blindly (a throttled start is tried again
    # on the next pass, a 5xx one is looked for first).
    config = config_for(talk_sim, tmp_path)
    talk_sim.set_faults(throttle_rate=0.2, error_rate=0.02, seed=1)
    result, _ = run_rollout(talk_sim, config, journal)
    talk_sim.set_faults(throttle_rate=0, error_rate=0)

    assert result.ok, {k: r.reason for k, r in result.services.items() if r.status != "verified"}
    assert len(result.with_status("verified")) == 12
    counts = deployments_per_service(config)
    assert len(counts) == 12
    assert counts == dict.fromkeys(counts, 2), "each service deployed exactly once"
    started = [e.service for e in journal.entries() if e.kind is EntryKind.DEPLOYMENT_STARTED]
    assert sorted(started) == sorted(counts)
    assert talk_sim.calls["ecs:UpdateService"] >= 12
