"""The rollout engine on ECS's native strategies (issue 8 item 2, engine side), for each of
BLUE_GREEN, LINEAR and CANARY: the bake is waited out (a one-hour bake is not failed at a fixed
30 minutes) and verified, a failure during the bake is rolled back by ECS and reported in its
words, and `abort` mid-bake rolls the deployment back."""

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
from fleetpatch.rollout.events import Event, ListSink
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.rollout.helpers import config_for, make_plan, run_rollout, start_canary_then_hang

# Per strategy: the service's settings, and how long its bakes make the rollout (the bake
# plus, for LINEAR, a step bake after each shift below 100%, for CANARY the canary's bake).
STRATEGIES: dict[str, tuple[dict[str, Any], int]] = {
    "BLUE_GREEN": ({"strategy": "BLUE_GREEN", "bake_time_in_minutes": 60}, 60),
    "LINEAR": (
        {
            "strategy": "LINEAR",
            "bake_time_in_minutes": 30,
            "linear_configuration": {"step_percent": 50, "step_bake_time_in_minutes": 5},
        },
        35,
    ),
    "CANARY": (
        {
            "strategy": "CANARY",
            "bake_time_in_minutes": 30,
            "canary_configuration": {"canary_percent": 10, "canary_bake_time_in_minutes": 10},
        },
        40,
    ),
}


def strategy_scenario(strategy: str) -> dict[str, Any]:
    scenario = small_scenario()
    cluster = scenario["environments"][0]["clusters"][0]
    cluster["services"] = [{"name": "api", **STRATEGIES[strategy][0]}]
    return scenario


@pytest.fixture(params=sorted(STRATEGIES))
def bg_sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    with Simulator(strategy_scenario(request.param)) as simulator:
        simulator.strategy = request.param  # type: ignore[attr-defined]
        yield simulator


def sidecar_digests(config: Any) -> set[str]:
    ecs = AwsSessions(config).get("dev").ecs()
    arns = ecs.list_tasks(cluster="main", serviceName="api", desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster="main", tasks=arns)["tasks"]
    return {c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == "log_router"}


class FailsDuringTheBake(ListSink):
    """When the live view first shows the bake, the new digest starts failing and one of its
    tasks stops: ECS replaces it, the replacements fail, the circuit breaker trips."""

    def __init__(self, sim: Simulator, config: Any, target: str) -> None:
        super().__init__()
        self.sim, self.target = sim, target
        self.ecs = AwsSessions(config).get("dev").ecs()
        self.failed_at_bake = False

    def emit(self, event: Event) -> None:
        super().emit(event)
        if self.failed_at_bake or event.data.get("stage") != "BAKE_TIME":
            return
        self.failed_at_bake = True
        self.sim.fail_digest(self.target, "CannotStartContainerError: bad config")
        arns = self.ecs.list_tasks(cluster="main", serviceName="api")["taskArns"]
        for task in self.ecs.describe_tasks(cluster="main", tasks=arns)["tasks"]:
            if any(c.get("imageDigest") == self.target for c in task["containers"]):
                self.ecs.stop_task(cluster="main", task=task["taskArn"], reason="test")
                return


def test_the_timeout_comes_from_the_strategy() -> None:
    assert strategy_timeout(None, 30) == 30 * 60
    assert strategy_timeout({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 60}, 30) == 90 * 60
    linear = {
        "strategy": "LINEAR",
        "bakeTimeInMinutes": 10,
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 5},
    }
    assert strategy_timeout(linear, 30) == (30 + 10 + 3 * 5) * 60  # no wait after 100%
    hooked = {
        "strategy": "CANARY",
        "lifecycleHooks": [{"timeoutConfiguration": {"timeoutInMinutes": 120}}],
    }
    assert strategy_timeout(hooked, 30) == (30 + 10 + 120) * 60


def test_the_bake_is_waited_out_and_verified(
    bg_sim: Simulator, tmp_path: Path, journal: SqliteJournal
) -> None:
    config = config_for(bg_sim, tmp_path)
    the_plan = make_plan(config)
    target = the_plan.target.digest
    bakes = STRATEGIES[bg_sim.strategy][1]  # type: ignore[attr-defined]
    # The plan says how long the bakes make it, before anything starts.
    assert the_plan.bake_minutes == bakes
    assert the_plan.to_json()["waves"][0]["bake_minutes"] == bakes
    result, sink = run_rollout(bg_sim, config, journal)
    assert result.ok, result.services
    assert result.services["main/api"].status == "verified"
    # The live view follows the stage and the bake time left (DescribeServiceDeployments).
    stages = [e.data for e in sink.of("deployment_progress") if e.data.get("stage")]
    baking = [d for d in stages if d["stage"] == "BAKE_TIME"]
    bake = STRATEGIES[bg_sim.strategy][0]["bake_time_in_minutes"]  # type: ignore[attr-defined]
    assert baking and baking[0]["bake_left_minutes"] == bake
    assert min(d["bake_left_minutes"] for d in baking) < bake
    # Verified after CLEAN_UP: the old revision's tasks are gone.
    assert sidecar_digests(config) == {target}


@pytest.mark.parametrize("when", ["from_the_start", "during_the_bake"])
def test_a_failing_build_is_rolled_back_by_ecs_and_halts(
    bg_sim: Simulator, tmp_path: Path, journal: SqliteJournal, when: str
) -> None:
    config = config_for(bg_sim, tmp_path)
    before = sidecar_digests(config)
    target = make_plan(config).target.digest
    sink = FailsDuringTheBake(bg_sim, config, target)
    if when == "from_the_start":
        # Green tasks never start: SCALE_UP fails, blue never stops.
        bg_sim.fail_digest(target, "CannotStartContainerError: bad config")
        sink.failed_at_bake = True  # nothing more to do at the bake
    result, _ = run_rollout(bg_sim, config, journal, sink=sink)

    assert result.halted
    reason = result.services["main/api"].reason
    assert "ECS rolled the service back" in reason, reason
    assert "CannotStartContainerError: bad config" in reason
    if when == "during_the_bake":
        assert any(e.data.get("stage") == "BAKE_TIME" for e in sink.of("deployment_progress"))
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
    one_step = strategy == "LINEAR" and step >= 100
    no_wait = strategy == "ROLLING" or (bake == 0 and (strategy == "BLUE_GREEN" or one_step))
    assert (baked == 0) is no_wait
