"""ECS's native BLUE_GREEN, LINEAR and CANARY strategies in the simulator, through boto3 over
HTTP: lifecycle stages over simulated time, both revisions during the bake, clean-up, rollbacks
(circuit breaker, StopServiceDeployment, PAUSE hooks) and the validation ECS does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fleetpatch.errors import UserError
from fleetpatch.sim import Simulator
from fleetpatch.sim.loading import scenario_from_data
from fleetpatch.sim.seeding import NETWORK_CONFIGURATION
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario

STAGE_ORDER = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
]

SERVICES: list[dict[str, Any]] = [
    {"name": "bg", "strategy": "BLUE_GREEN", "bake_time_in_minutes": 60},
    {
        "name": "lin",
        "strategy": "LINEAR",
        "bake_time_in_minutes": 10,
        "linear_configuration": {"step_percent": 25, "step_bake_time_in_minutes": 5},
    },
    {
        "name": "can",
        "strategy": "CANARY",
        "bake_time_in_minutes": 10,
        "canary_configuration": {"canary_percent": 10, "canary_bake_time_in_minutes": 15},
    },
    {
        "name": "nobreaker",
        "strategy": "BLUE_GREEN",
        "bake_time_in_minutes": 30,
        "circuit_breaker": False,
        "rollback": False,
    },
    {
        "name": "paused",
        "strategy": "BLUE_GREEN",
        "bake_time_in_minutes": 5,
        "lifecycle_hooks": [
            {
                "target_type": "PAUSE",
                "lifecycle_stages": ["POST_SCALE_UP"],
                "timeout_in_minutes": 120,
            }
        ],
    },
]


@pytest.fixture
def strategy_sim() -> Iterator[Simulator]:
    scenario = small_scenario()
    scenario["environments"][0]["clusters"][0]["services"] = SERVICES
    with Simulator(scenario) as simulator:
        yield simulator


@pytest.fixture
def ecs(strategy_sim: Simulator) -> Any:
    return client(strategy_sim, "ecs", "dev")


def new_sidecar(sim: Simulator, **image: Any) -> str:
    return sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"], **image})


def deploy(ecs: Any, name: str) -> str:
    """Force a new deployment (the moved `latest` tag); returns its service deployment ARN."""
    ecs.update_service(cluster="main", service=name, forceNewDeployment=True)
    return str(service(ecs, name)["currentServiceDeployment"])


def service(ecs: Any, name: str) -> dict[str, Any]:
    return ecs.describe_services(cluster="main", services=[name])["services"][0]  # type: ignore[no-any-return]


def service_deployment(ecs: Any, arn: str) -> dict[str, Any]:
    answer = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    return answer["serviceDeployments"][0]  # type: ignore[no-any-return]


def sidecar_digests(ecs: Any, name: str) -> list[str]:
    """The fluent-bit digest each RUNNING task of the service runs, sorted."""
    arns = ecs.list_tasks(cluster="main", serviceName=name)["taskArns"]
    tasks = ecs.describe_tasks(cluster="main", tasks=arns)["tasks"]
    return sorted(
        c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == "log_router"
    )


def follow(
    sim: Simulator, ecs: Any, arn: str, step: float, until: set[str]
) -> list[dict[str, Any]]:
    """Poll the service deployment every `step` simulated seconds until its status is in
    `until`; every answer, in order."""
    seen: list[dict[str, Any]] = []
    for _ in range(2000):
        sd = service_deployment(ecs, arn)
        seen.append(sd)
        if sd["status"] in until:
            return seen
        sim.advance(step)
    raise AssertionError(f"deployment still {seen[-1]['status']} after 2000 polls")


def stages(seen: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for sd in seen:
        stage = sd.get("lifecycleStage")
        if stage and (not out or out[-1] != stage):
            out.append(stage)
    return out


def advance_to_stage(sim: Simulator, ecs: Any, arn: str, stage: str) -> dict[str, Any]:
    for _ in range(2000):
        sd = service_deployment(ecs, arn)
        if sd.get("lifecycleStage") == stage:
            return sd
        sim.advance(5)
    raise AssertionError(f"deployment never reached {stage}")


# --- success ----------------------------------------------------------------------------------


def test_blue_green_bakes_with_both_revisions_then_cleans_up_the_blue_one(
    strategy_sim: Simulator, ecs: Any
) -> None:
    old_digests = sidecar_digests(ecs, "bg")
    new = new_sidecar(strategy_sim)
    arn = deploy(ecs, "bg")

    sd = advance_to_stage(strategy_sim, ecs, arn, "BAKE_TIME")
    assert sd["status"] == "IN_PROGRESS"
    assert sd["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert sd["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 0.0
    svc = service(ecs, "bg")
    counts = [
        (r["requestedTaskCount"], r["runningTaskCount"]) for r in svc["currentServiceRevisions"]
    ]
    assert counts == [(2, 2), (2, 2)]
    assert [(d["status"], d["rolloutState"]) for d in svc["deployments"]] == [
        ("PRIMARY", "IN_PROGRESS"),
        ("ACTIVE", "COMPLETED"),
    ]
    assert sidecar_digests(ecs, "bg") == sorted([*old_digests, new, new])

    # The bake lasts bakeTimeInMinutes: still baking a minute before its end.
    strategy_sim.advance(59 * 60)
    assert service_deployment(ecs, arn)["lifecycleStage"] == "BAKE_TIME"
    seen = follow(strategy_sim, ecs, arn, 5, {"SUCCESSFUL"})
    assert stages(seen)[-2:] == ["BAKE_TIME", "CLEAN_UP"]
    svc = service(ecs, "bg")
    assert len(svc["currentServiceRevisions"]) == 1
    assert [(d["status"], d["rolloutState"]) for d in svc["deployments"]] == [
        ("PRIMARY", "COMPLETED")
    ]
    assert sidecar_digests(ecs, "bg") == [new, new]


def test_blue_green_stages_come_in_the_documented_order(strategy_sim: Simulator, ecs: Any) -> None:
    new_sidecar(strategy_sim)
    # Every 20 simulated seconds: a poll every 5 would be 720 polls of the 60-minute bake,
    # paced by ECS's DescribeServiceDeployments bucket (20 a second) like any client.
    seen = follow(strategy_sim, ecs, deploy(ecs, "bg"), 20, {"SUCCESSFUL"})
    observed = stages(seen)
    assert observed == sorted(observed, key=STAGE_ORDER.index)
    assert {"SCALE_UP", "BAKE_TIME", "CLEAN_UP"} <= set(observed)
    assert all(sd["status"] == "IN_PROGRESS" for sd in seen[:-1])


def test_linear_shifts_traffic_in_steps_with_a_bake_between_them(
    strategy_sim: Simulator, ecs: Any
) -> None:
    new_sidecar(strategy_sim)
    arn = deploy(ecs, "lin")
    advance_to_stage(strategy_sim, ecs, arn, "PRODUCTION_TRAFFIC_SHIFT")
    weights: list[float] = []
    for _ in range(4):
        sd = service_deployment(ecs, arn)
        weights.append(sd["targetServiceRevision"]["requestedProductionTrafficWeight"])
        strategy_sim.advance(5 * 60)
    assert weights == [25.0, 50.0, 75.0, 100.0]
    sd = service_deployment(ecs, arn)
    assert sd["lifecycleStage"] == "BAKE_TIME"
    assert sd["deploymentConfiguration"]["linearConfiguration"] == {
        "stepPercent": 25.0,
        "stepBakeTimeInMinutes": 5,
    }
    assert follow(strategy_sim, ecs, arn, 30, {"SUCCESSFUL"})[-1]["status"] == "SUCCESSFUL"


def test_canary_shifts_the_canary_percent_bakes_then_shifts_the_rest(
    strategy_sim: Simulator, ecs: Any
) -> None:
    new_sidecar(strategy_sim)
    arn = deploy(ecs, "can")
    sd = advance_to_stage(strategy_sim, ecs, arn, "PRODUCTION_TRAFFIC_SHIFT")
    assert sd["targetServiceRevision"]["requestedProductionTrafficWeight"] == 10.0
    strategy_sim.advance(14 * 60)
    sd = service_deployment(ecs, arn)
    assert sd["targetServiceRevision"]["requestedProductionTrafficWeight"] == 10.0
    strategy_sim.advance(60)
    sd = service_deployment(ecs, arn)
    assert sd["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert sd["lifecycleStage"] == "BAKE_TIME"


# --- failures and rollbacks -------------------------------------------------------------------


def test_green_tasks_failing_during_the_bake_trip_the_breaker_and_roll_back(
    strategy_sim: Simulator, ecs: Any
) -> None:
    old_digests = sidecar_digests(ecs, "bg")
    new = new_sidecar(strategy_sim)
    arn = deploy(ecs, "bg")
    advance_to_stage(strategy_sim, ecs, arn, "BAKE_TIME")
    # The new build turns out bad: a green task dies and its replacements fail to start.
    strategy_sim.fail_digest(new, "CannotStartContainerError: exit 139")
    green_task = next(
        t
        for t in ecs.describe_tasks(
            cluster="main", tasks=ecs.list_tasks(cluster="main", serviceName="bg")["taskArns"]
        )["tasks"]
        if any(c.get("imageDigest") == new for c in t["containers"])
    )
    ecs.stop_task(cluster="main", task=green_task["taskArn"], reason="crashed")

    seen = follow(strategy_sim, ecs, arn, 5, {"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
    assert "ROLLBACK_IN_PROGRESS" in [sd["status"] for sd in seen]
    final = seen[-1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert final["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert final["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert final["rollback"]["serviceRevisionArn"] == final["sourceServiceRevisions"][0]["arn"]
    assert sidecar_digests(ecs, "bg") == old_digests


def test_an_image_that_fails_to_start_fails_the_scale_up_and_leaves_blue_serving(
    strategy_sim: Simulator, ecs: Any
) -> None:
    old_digests = sidecar_digests(ecs, "bg")
    new_sidecar(strategy_sim, fails="CannotPullContainerError: broken layer")
    arn = deploy(ecs, "bg")
    seen = follow(strategy_sim, ecs, arn, 5, {"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
    assert seen[-1]["status"] == "ROLLBACK_SUCCESSFUL"
    assert "BAKE_TIME" not in stages(seen)
    # The blue tasks never stopped: the very same tasks serve on.
    assert sidecar_digests(ecs, "bg") == old_digests
    assert service(ecs, "bg")["runningCount"] == 2


def test_stop_service_deployment_rollback_mid_bake_returns_to_blue_without_rollback_configured(
    strategy_sim: Simulator, ecs: Any
) -> None:
    old_digests = sidecar_digests(ecs, "nobreaker")
    blue_tasks = set(ecs.list_tasks(cluster="main", serviceName="nobreaker")["taskArns"])
    new_sidecar(strategy_sim)
    arn = deploy(ecs, "nobreaker")
    advance_to_stage(strategy_sim, ecs, arn, "BAKE_TIME")
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert service_deployment(ecs, arn)["status"] == "ROLLBACK_IN_PROGRESS"
    final = follow(strategy_sim, ecs, arn, 5, {"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})[-1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert set(ecs.list_tasks(cluster="main", serviceName="nobreaker")["taskArns"]) == blue_tasks
    assert sidecar_digests(ecs, "nobreaker") == old_digests
    svc = service(ecs, "nobreaker")
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY"]


def test_a_pause_hook_holds_the_deployment_until_continue_service_deployment(
    strategy_sim: Simulator, ecs: Any
) -> None:
    new_sidecar(strategy_sim)
    arn = deploy(ecs, "paused")
    strategy_sim.advance(60 * 60)  # an hour later: still waiting
    sd = service_deployment(ecs, arn)
    assert sd["status"] == "IN_PROGRESS"
    assert sd["lifecycleStage"] == "POST_SCALE_UP"
    (hook,) = sd["lifecycleHookDetails"]
    assert hook["targetType"] == "PAUSE"
    assert hook["status"] == "AWAITING_ACTION"
    assert hook["timeoutAction"] == "ROLLBACK"
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    sd = service_deployment(ecs, arn)
    assert sd["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    assert sd["lifecycleStage"] == "BAKE_TIME"
    with pytest.raises(ClientError) as err:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"])
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    strategy_sim.advance(6 * 60)
    assert service_deployment(ecs, arn)["status"] == "SUCCESSFUL"


def test_a_pause_hook_that_times_out_rolls_back(strategy_sim: Simulator, ecs: Any) -> None:
    old_digests = sidecar_digests(ecs, "paused")
    new_sidecar(strategy_sim)
    arn = deploy(ecs, "paused")
    strategy_sim.advance(119 * 60)
    assert service_deployment(ecs, arn)["status"] == "IN_PROGRESS"
    strategy_sim.advance(60)
    final = follow(strategy_sim, ecs, arn, 5, {"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})[-1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"
    assert final["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    assert sidecar_digests(ecs, "paused") == old_digests


def test_continue_service_deployment_with_rollback_rolls_back(
    strategy_sim: Simulator, ecs: Any
) -> None:
    new_sidecar(strategy_sim)
    arn = deploy(ecs, "paused")
    strategy_sim.advance(60)
    hook = service_deployment(ecs, arn)["lifecycleHookDetails"][0]
    ecs.continue_service_deployment(
        serviceDeploymentArn=arn, hookId=hook["hookId"], action="ROLLBACK"
    )
    final = follow(strategy_sim, ecs, arn, 5, {"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})[-1]
    assert final["status"] == "ROLLBACK_SUCCESSFUL"


# --- validation -------------------------------------------------------------------------------


def create(ecs: Any, name: str, **config: Any) -> dict[str, Any]:
    td = service(ecs, "bg")["taskDefinition"]
    return ecs.create_service(  # type: ignore[no-any-return]
        cluster="main",
        serviceName=name,
        taskDefinition=td,
        desiredCount=1,
        deploymentConfiguration=config,
        networkConfiguration=NETWORK_CONFIGURATION,
    )["service"]


@pytest.mark.parametrize(
    "config",
    [
        {"strategy": "SIDEWAYS"},
        {"strategy": "BLUE_GREEN"},  # bakeTimeInMinutes must be provided
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.9}},
        {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 10.05}},
        {"strategy": "LINEAR", "linearConfiguration": {"stepBakeTimeInMinutes": 1441}},
        {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.05}},
        {"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": 1500}},
        {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5, "linearConfiguration": {}},
        {"strategy": "ROLLING", "canaryConfiguration": {"canaryPercent": 5.0}},
        {
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 5,
            "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["TEST_TRAFFIC_SHIFT"]}],
        },
        {
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 5,
            "lifecycleHooks": [{"targetType": "AWS_LAMBDA", "lifecycleStages": ["PRE_SCALE_UP"]}],
        },
        {
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 5,
            "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": []}],
        },
    ],
)
def test_invalid_strategy_settings_are_refused(ecs: Any, config: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as err:
        create(ecs, "refused", **config)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_linear_and_canary_get_ecs_defaults(ecs: Any) -> None:
    linear = create(ecs, "linear-defaults", strategy="LINEAR")
    assert linear["deploymentConfiguration"]["linearConfiguration"] == {
        "stepPercent": 10.0,
        "stepBakeTimeInMinutes": 6,
    }
    canary = create(ecs, "canary-defaults", strategy="CANARY")
    assert canary["deploymentConfiguration"]["canaryConfiguration"] == {
        "canaryPercent": 5.0,
        "canaryBakeTimeInMinutes": 10,
    }
    # Switching a service to another strategy drops the old strategy's configuration.
    switched = ecs.update_service(
        cluster="main",
        service="linear-defaults",
        deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0},
    )["service"]["deploymentConfiguration"]
    assert switched["strategy"] == "BLUE_GREEN"
    assert "linearConfiguration" not in switched


def test_update_service_refuses_a_bad_bake_time(ecs: Any) -> None:
    with pytest.raises(ClientError) as err:
        ecs.update_service(
            cluster="main", service="bg", deploymentConfiguration={"bakeTimeInMinutes": 2000}
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "bakeTimeInMinutes" in err.value.response["Error"]["Message"]


def test_scenario_strategy_keys_are_checked() -> None:
    def scenario_with(service: dict[str, Any]) -> Any:
        scenario = small_scenario()
        scenario["environments"][0]["clusters"][0]["services"] = [service]
        return scenario_from_data(scenario)

    with pytest.raises(UserError, match="step_percent"):
        scenario_with(
            {"name": "x", "strategy": "LINEAR", "linear_configuration": {"step_percent": 1}}
        )
    with pytest.raises(UserError, match="bake_time_in_minutes"):
        scenario_with({"name": "x", "strategy": "BLUE_GREEN"})
    with pytest.raises(UserError, match="only valid with strategy CANARY"):
        scenario_with({"name": "x", "canary_configuration": {}})
