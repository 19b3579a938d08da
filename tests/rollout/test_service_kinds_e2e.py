"""Every kind of ECS service in one fleet, end to end on the simulator (issue 8 item 1): a
REPLICA service, a DAEMON service on EC2 container instances, a CODE_DEPLOY service and an
EXTERNAL one without a task definition. `inventory` reads them all, `plan` skips CODE_DEPLOY and
EXTERNAL with what to do instead, and `rollout` deploys and verifies the REPLICA and the DAEMON
service (on every task it runs) and touches the other two not at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli.app import run
from fleetpatch.config import load_config
from fleetpatch.journal import SqliteJournal
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.rollout.helpers import make_plan, run_rollout

INSTANCES = 4


def mixed_fleet() -> dict[str, Any]:
    scenario = small_scenario()
    cluster = scenario["environments"][0]["clusters"][0]
    cluster["container_instances"] = INSTANCES
    cluster["services"] = [
        "api",
        {"name": "agent", "scheduling_strategy": "DAEMON"},
        {"name": "legacy", "deployment_controller": "CODE_DEPLOY"},
        {"name": "mesh", "deployment_controller": "EXTERNAL", "desired_count": 0},
    ]
    return scenario


@pytest.fixture
def fleet_sim() -> Iterator[Simulator]:
    with Simulator(mixed_fleet()) as simulator:
        yield simulator


@pytest.fixture
def config_path(fleet_sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    return render_config(fleet_sim, tmp_path / "fleetpatch.toml")


def sidecar_digests(ecs: Any, name: str) -> list[str]:
    arns = ecs.list_tasks(cluster="main", serviceName=name, desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster="main", tasks=arns)["tasks"] if arns else []
    return sorted(
        c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == "log_router"
    )


def test_inventory_and_status_read_every_kind(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config_path), "inventory", "--all", "--json"]) == 0
    services = {
        s["service"]: s for s in json.loads(capsys.readouterr().out)["environments"][0]["services"]
    }
    assert set(services) == {"api", "agent", "legacy", "mesh"}
    assert services["agent"]["running_count"] == INSTANCES
    assert services["legacy"]["running_count"] == 2
    assert not services["mesh"]["task_definition"]  # EXTERNAL: none of its own
    assert run(["--config", str(config_path), "inventory", "--all"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert all(name in captured.out for name in ("api", "agent", "legacy", "mesh"))
    # status names what fleetpatch can't patch, not a shorter list.
    assert run(["--config", str(config_path), "status", "--json"]) == 0
    unpatchable = json.loads(capsys.readouterr().out)["not_patchable"]
    assert {item["service"] for item in unpatchable} == {"main/legacy", "main/mesh"}


def test_plan_skips_code_deploy_and_external_with_what_to_do(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config_path), "plan", "--env", "dev", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    planned = {s["service"] for wave in plan["waves"] for s in wave["services"]}
    assert planned == {"main/api", "main/agent"}
    skipped = {s["service"]: s["reason"] for s in plan["skipped"]}
    assert set(skipped) == {"main/legacy", "main/mesh"}
    assert skipped["main/legacy"].startswith("deployment controller CODE_DEPLOY")
    assert "CodeDeploy deployment group" in skipped["main/legacy"]
    assert skipped["main/mesh"].startswith("deployment controller EXTERNAL")
    assert "through that controller" in skipped["main/mesh"]

    assert run(["--config", str(config_path), "plan", "--env", "dev"]) == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "skipped main/legacy: deployment controller CODE_DEPLOY" in text
    assert "skipped main/mesh: deployment controller EXTERNAL" in text


def test_rollout_patches_the_replica_and_the_daemon_and_leaves_the_others(
    fleet_sim: Simulator, config_path: Path, tmp_path: Path
) -> None:
    config = load_config(config_path)
    ecs = AwsSessions(config).get("dev").ecs()
    old = sidecar_digests(ecs, "legacy")
    legacy_before = ecs.describe_services(cluster="main", services=["legacy"])["services"][0]
    target = make_plan(config).target.digest
    assert old and target not in old
    fleet_sim.reset_calls()

    with SqliteJournal(tmp_path / "journal.sqlite") as journal:
        result, sink = run_rollout(fleet_sim, config, journal)

    assert result.ok, result.services
    assert result.services["main/api"].status == "verified"
    assert result.services["main/agent"].status == "verified"
    # The DAEMON service is verified on every task it runs: one per container instance.
    verified = {e.data["service"]: e.data for e in sink.of("verified")}
    assert verified["main/agent"]["tasks"] == INSTANCES
    assert sidecar_digests(ecs, "agent") == [target] * INSTANCES
    assert sidecar_digests(ecs, "api") == [target] * 2
    # CODE_DEPLOY and EXTERNAL: skipped, never updated.
    for name in ("main/legacy", "main/mesh"):
        assert result.services[name].status == "skipped", result.services[name]
        assert result.services[name].reason.startswith("deployment controller ")
    assert sidecar_digests(ecs, "legacy") == old
    legacy_after = ecs.describe_services(cluster="main", services=["legacy"])["services"][0]
    assert legacy_after["taskSets"][0]["id"] == legacy_before["taskSets"][0]["id"]
    assert fleet_sim.calls["ecs:UpdateService"] == 2
