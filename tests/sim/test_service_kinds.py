"""Kinds of ECS service in the simulator, through boto3 over HTTP: DAEMON services (one task
per container instance, replaced per instance), CODE_DEPLOY services (a task set, and
UpdateService refuses what CodeDeploy owns) and EXTERNAL services (no task definition), with
the validation ECS does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fleetpatch.errors import UserError
from fleetpatch.sim import Simulator
from fleetpatch.sim.loading import scenario_from_data
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario

KINDS: list[dict[str, Any]] = [
    "api",
    {"name": "agent", "scheduling_strategy": "DAEMON"},
    {"name": "legacy", "deployment_controller": "CODE_DEPLOY"},
    {"name": "mesh", "deployment_controller": "EXTERNAL", "desired_count": 0},
]


def kinds_scenario(instances: int = 3) -> dict[str, Any]:
    scenario = small_scenario()
    cluster = scenario["environments"][0]["clusters"][0]
    cluster["container_instances"] = instances
    cluster["services"] = list(KINDS)
    return scenario


@pytest.fixture
def kinds_sim() -> Iterator[Simulator]:
    with Simulator(kinds_scenario()) as simulator:
        yield simulator


@pytest.fixture
def ecs(kinds_sim: Simulator) -> Any:
    return client(kinds_sim, "ecs", "dev")


def service(ecs: Any, name: str) -> dict[str, Any]:
    return ecs.describe_services(cluster="main", services=[name])["services"][0]  # type: ignore[no-any-return]


def live_tasks(ecs: Any, name: str) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster="main", serviceName=name, desiredStatus="RUNNING")["taskArns"]
    if not arns:
        return []
    return ecs.describe_tasks(cluster="main", tasks=arns)["tasks"]  # type: ignore[no-any-return]


def sidecar_digest(task: dict[str, Any]) -> str:
    return next(c["imageDigest"] for c in task["containers"] if c["name"] == "log_router")


def refused(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    return str(caught.value.response["Error"]["Message"])


# --- DAEMON -----------------------------------------------------------------------------------


def test_a_daemon_runs_one_task_on_each_container_instance(ecs: Any) -> None:
    agent = service(ecs, "agent")
    assert agent["schedulingStrategy"] == "DAEMON"
    assert agent["launchType"] == "EC2"
    assert agent["desiredCount"] == agent["runningCount"] == 3
    assert agent["deploymentConfiguration"]["maximumPercent"] == 100
    assert agent["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    cluster = ecs.describe_clusters(clusters=["main"])["clusters"][0]
    assert cluster["registeredContainerInstancesCount"] == 3
    instances = [t["containerInstanceArn"] for t in live_tasks(ecs, "agent")]
    assert len(set(instances)) == 3
    # Fargate tasks run on no container instance.
    assert all("containerInstanceArn" not in t for t in live_tasks(ecs, "api"))


def test_a_daemon_deployment_replaces_the_task_of_each_instance(
    kinds_sim: Simulator, ecs: Any
) -> None:
    before = {t["containerInstanceArn"] for t in live_tasks(ecs, "agent")}
    new = kinds_sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"]})
    ecs.update_service(
        cluster="main",
        service="agent",
        forceNewDeployment=True,
        deploymentConfiguration={"minimumHealthyPercent": 50},
    )
    for _ in range(100):
        tasks = live_tasks(ecs, "agent")
        per_instance = Counter(t["containerInstanceArn"] for t in tasks)
        # maximumPercent 100: never two tasks on one instance
        assert max(per_instance.values(), default=0) <= 1
        # minimumHealthyPercent 50 of 3: at least 2 keep running
        assert service(ecs, "agent")["runningCount"] >= 2
        primary = service(ecs, "agent")["deployments"][0]
        if primary["rolloutState"] == "COMPLETED":
            break
        kinds_sim.advance(5)
    assert primary["rolloutState"] == "COMPLETED"
    tasks = live_tasks(ecs, "agent")
    assert {t["containerInstanceArn"] for t in tasks} == before
    assert {sidecar_digest(t) for t in tasks} == {new}


def test_a_new_container_instance_gets_its_daemon_task(kinds_sim: Simulator, ecs: Any) -> None:
    (arn,) = kinds_sim.ecs.register_container_instances("111111111111", "eu-west-1", "main", 1)
    kinds_sim.advance(60)
    assert service(ecs, "agent")["desiredCount"] == service(ecs, "agent")["runningCount"] == 4
    assert arn in {t["containerInstanceArn"] for t in live_tasks(ecs, "agent")}


def test_ecs_refuses_what_a_daemon_does_not_support(ecs: Any) -> None:
    base = {"cluster": "main", "taskDefinition": "api", "schedulingStrategy": "DAEMON"}
    message = refused(ecs.create_service, serviceName="d1", desiredCount=2, **base)
    assert message.startswith("The daemon scheduling strategy does not support a desired count")
    message = refused(ecs.create_service, serviceName="d2", launchType="FARGATE", **base)
    assert "FARGATE" in message
    message = refused(
        ecs.create_service,
        serviceName="d3",
        deploymentConfiguration={"maximumPercent": 200},
        **base,
    )
    assert "values above 100 for maximumPercent" in message
    message = refused(
        ecs.create_service,
        serviceName="d4",
        deploymentController={"type": "CODE_DEPLOY"},
        **base,
    )
    assert "CODE_DEPLOY" in message
    message = refused(ecs.update_service, cluster="main", service="agent", desiredCount=5)
    assert message.startswith("The daemon scheduling strategy does not support a desired count")


def test_a_daemon_service_is_deleted_without_force(kinds_sim: Simulator, ecs: Any) -> None:
    ecs.delete_service(cluster="main", service="agent")
    kinds_sim.advance(60)
    assert service(ecs, "agent")["status"] == "INACTIVE"
    assert live_tasks(ecs, "agent") == []


# --- CODE_DEPLOY ------------------------------------------------------------------------------


def test_a_code_deploy_service_runs_a_task_set(ecs: Any) -> None:
    legacy = service(ecs, "legacy")
    assert legacy["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert legacy["deployments"] == []
    assert "currentServiceDeployment" not in legacy
    (task_set,) = legacy["taskSets"]
    assert task_set["status"] == "PRIMARY"
    assert task_set["startedBy"] == "CODE_DEPLOY"
    assert task_set["taskDefinition"] == legacy["taskDefinition"]
    assert task_set["runningCount"] == task_set["computedDesiredCount"] == 2
    assert task_set["stabilityStatus"] == "STEADY_STATE"
    assert len(live_tasks(ecs, "legacy")) == 2


def test_update_service_refuses_what_codedeploy_deploys(kinds_sim: Simulator, ecs: Any) -> None:
    legacy = service(ecs, "legacy")
    message = refused(
        ecs.update_service,
        cluster="main",
        service="legacy",
        taskDefinition=legacy["taskDefinition"],
    )
    assert message == (
        "Unable to update task definition on services with a CODE_DEPLOY deployment "
        "controller. Use AWS CodeDeploy to trigger a new deployment."
    )
    message = refused(ecs.update_service, cluster="main", service="legacy", forceNewDeployment=True)
    assert "CODE_DEPLOY deployment controller" in message
    # What UpdateService may change: the desired count (the task set scales).
    ecs.update_service(cluster="main", service="legacy", desiredCount=3)
    kinds_sim.advance(120)
    assert service(ecs, "legacy")["taskSets"][0]["runningCount"] == 3
    assert (
        ecs.list_service_deployments(cluster="main", service="legacy")["serviceDeployments"] == []
    )


# --- EXTERNAL ---------------------------------------------------------------------------------


def test_an_external_service_has_no_task_definition(ecs: Any) -> None:
    mesh = service(ecs, "mesh")
    assert mesh["deploymentController"] == {"type": "EXTERNAL"}
    assert "taskDefinition" not in mesh
    assert mesh["deployments"] == [] and mesh["taskSets"] == []
    assert mesh["runningCount"] == 0
    message = refused(ecs.update_service, cluster="main", service="mesh", taskDefinition="api")
    assert message.startswith("Unable to update task definition on services with a EXTERNAL")
    message = refused(
        ecs.create_service,
        cluster="main",
        serviceName="ext2",
        taskDefinition="api",
        desiredCount=1,
        deploymentController={"type": "EXTERNAL"},
    )
    assert message == "TaskDefinition must be blank."
    ecs.update_service(cluster="main", service="mesh", desiredCount=2)
    assert service(ecs, "mesh")["desiredCount"] == 2
    ecs.delete_service(cluster="main", service="mesh", force=True)
    assert service(ecs, "mesh")["status"] == "INACTIVE"


# --- the scenario -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"name": "x", "scheduling_strategy": "DEMON"}, "scheduling_strategy"),
        ({"name": "x", "deployment_controller": "CODEDEPLOY"}, "deployment_controller"),
        ({"name": "x", "scheduling_strategy": "DAEMON", "desired_count": 2}, "desired_count"),
        ({"name": "x", "scheduling_strategy": "DAEMON", "launch_type": "FARGATE"}, "launch_type"),
        ({"name": "x", "deployment_controller": "EXTERNAL", "containers": []}, "containers"),
        ({"name": "x", "deployment_controller": "CODE_DEPLOY", "strategy": "LINEAR"}, "strategy"),
    ],
)
def test_a_bad_kind_in_the_scenario_is_one_line_naming_the_key(
    entry: dict[str, Any], key: str
) -> None:
    scenario = small_scenario()
    scenario["environments"][0]["clusters"][0]["services"] = [entry]
    with pytest.raises(UserError) as caught:
        scenario_from_data(scenario)
    message = str(caught.value)
    assert "\n" not in message
    assert key in message, message
