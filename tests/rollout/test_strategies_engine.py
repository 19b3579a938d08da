"""The rollout engine on ECS's native strategies (issue 8 item 2, engine side): a one-hour
blue/green bake is waited out (not failed at a fixed 30 minutes), a failing build is rolled
back by ECS and reported in its words, and `abort` mid-bake rolls the deployment back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli.app import run
from fleetpatch.config import load_config
from fleetpatch.core.strategies import strategy_bake_minutes, strategy_wait_minutes
from fleetpatch.journal import SqliteJournal
from fleetpatch.rollout.decide import strategy_timeout
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.rollout.helpers import config_for, make_plan, run_rollout, start_canary_then_hang


def blue_green_scenario() -> dict[str, Any]:
    scenario = small_scenario()
    cluster = scenario["environments"][0]["clusters"][0]
    cluster["services"] = [{"name": "api", "strategy": "BLUE_GREEN", "bake_time_in_minutes": 60}]
    return scenario


@pytest.fixture
def bg_sim() -> Iterator[Simulator]:
    with Simulator(blue_green_scenario()) as simulator:
        yield simulator


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    with SqliteJournal(tmp_path / "journal.sqlite") as store:
        yield store


def sidecar_digests(config: Any) -> set[str]:
    ecs = AwsSessions(config).get("dev").ecs()
    arns = ecs.list_tasks(cluster="main", serviceName="api", desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster="main", tasks=arns)["tasks"]
    return {c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == "log_router"}


def test_the_timeout_comes_from_the_strategy() -> None:
    assert strategy_timeout(None, 30) == 30 * 60
    assert strategy_timeout({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 60}, 30) == 90 * 60
    linear = {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": 10,
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 5},
    }
    assert strategy_timeout(linear, 30) == (30 + 10 + 4 * 5) * 60
    hooked = {
        "strategy": "CANARY",
        "lifecycleHooks": [{"timeoutConfiguration": {"timeoutInMinutes": 120}}],
    }
    assert strategy_timeout(hooked, 30) == (30 + 10 + 120) * 60


def test_a_one_hour_bake_is_waited_out_and_verified(
    bg_sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(bg_sim, tmp_path)
    the_plan = make_plan(config)
    target = the_plan.target.digest
    # The plan says how long the bake makes it, before anything starts.
    assert the_plan.bake_minutes == 60 and the_plan.to_json()["waves"][0]["bake_minutes"] == 60
    result, sink = run_rollout(bg_sim, config, journal)
    assert result.ok, result.services
    assert result.services["main/api"].status == "verified"
    # The live view follows the stage and the bake time left (DescribeServiceDeployments).
    stages = [e.data for e in sink.of("deployment_progress") if e.data.get("stage")]
    baking = [d for d in stages if d["stage"] == "BAKE_TIME"]
    assert baking and baking[0]["bake_left_minutes"] == 60
    assert min(d["bake_left_minutes"] for d in baking) < 60
    # Verified after CLEAN_UP: the blue revision's tasks are gone.
    assert sidecar_digests(config) == {target}


def test_a_build_that_fails_during_the_deployment_is_rolled_back_by_ecs(
    bg_sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(bg_sim, tmp_path)
    before = sidecar_digests(config)
    bg_sim.fail_digest(make_plan(config).target.digest, "CannotStartContainerError: bad config")
    result, _ = run_rollout(bg_sim, config, journal)

    assert result.halted
    reason = result.services["main/api"].reason
    assert "ECS rolled the service back" in reason, reason
    assert "CannotStartContainerError: bad config" in reason
    bg_sim.advance(600)
    assert sidecar_digests(config) == before


def test_abort_mid_bake_rolls_back(
    bg_sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = render_config(bg_sim, tmp_path / "fleetpatch.toml")
    path.write_text(f'journal = "{tmp_path / "journal.sqlite"}"\n\n' + path.read_text())
    config = load_config(path)
    before = sidecar_digests(config)
    aws = AwsSessions(config).get("dev")
    with SqliteJournal(tmp_path / "journal.sqlite") as journal:
        start_canary_then_hang(bg_sim, config, journal)
    ecs = aws.ecs()
    arn = ecs.describe_services(cluster="main", services=["api"])["services"][0][
        "currentServiceDeployment"
    ]
    for _ in range(100):
        sd = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        if sd.get("lifecycleStage") == "BAKE_TIME":
            break
        bg_sim.advance(15)
    assert sd["lifecycleStage"] == "BAKE_TIME"
    capsys.readouterr()

    assert run(["--config", str(path), "abort", "--env", "dev"]) == 0
    assert "main/api: rolled back" in capsys.readouterr().out
    for _ in range(100):
        sd = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        if sd["status"] == "ROLLBACK_SUCCESSFUL":
            break
        bg_sim.advance(15)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sidecar_digests(config) == before


@given(
    strategy=st.sampled_from(["ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"]),
    bake=st.integers(0, 1440),
    step=st.floats(3, 100),
    hooks=st.lists(st.integers(1, 1440), max_size=3),
)
def test_a_wait_lasts_at_least_the_bake(
    strategy: str, bake: int, step: float, hooks: list[int]
) -> None:
    configuration = {
        "strategy": strategy,
        "bakeTimeInMinutes": bake,
        "linearConfiguration": {"stepPercent": step, "stepBakeTimeInMinutes": 5},
        "lifecycleHooks": [{"timeoutConfiguration": {"timeoutInMinutes": m}} for m in hooks],
    }
    baked = strategy_bake_minutes(configuration)
    assert strategy_wait_minutes(configuration) == baked + sum(hooks)
    assert baked >= (bake if strategy != "ROLLING" else 0)
    assert (baked == 0) is (strategy == "ROLLING" or (strategy == "BLUE_GREEN" and bake == 0))
