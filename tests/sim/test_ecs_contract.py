"""The simulator's ECS layer answers to AWS: every answer of every operation it serves, raw off
the wire, against botocore's service model, and the members AWS's documented response
examples always carry present in the simulator's answers.

One fleet walks through rich states (rolling deployments in flight, a blue/green deployment
mid-bake, LINEAR and CANARY steps, a PAUSE hook awaiting action, DAEMON, CODE_DEPLOY and
EXTERNAL services, a circuit breaker rolling back, stopped tasks, a requested rollback, a
deregistered task definition, a draining service, refused requests) and every answer is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario
from tests.sim.contract import Recorder, check_answer, ecs_model, fixture, missing_members

SERVICES: list[Any] = [
    "api",
    {"name": "ec2app", "launch_type": "EC2"},
    {"name": "crashy", "desired_count": 4},
    {"name": "bg", "strategy": "BLUE_GREEN", "bake_time_in_minutes": 60},
    {
        "name": "lin",
        "strategy": "LINEAR",
        "bake_time_in_minutes": 10,
        "linear_configuration": {"step_percent": 25, "step_bake_time_in_minutes": 5},
    },
    {"name": "can", "strategy": "CANARY", "bake_time_in_minutes": 10},
    {
        "name": "paused",
        "strategy": "BLUE_GREEN",
        "bake_time_in_minutes": 5,
        "lifecycle_hooks": [
            {"target_type": "PAUSE", "lifecycle_stages": ["POST_SCALE_UP"]},
        ],
    },
    {"name": "agent", "scheduling_strategy": "DAEMON"},
    {"name": "legacy", "deployment_controller": "CODE_DEPLOY"},
    {"name": "mesh", "deployment_controller": "EXTERNAL", "desired_count": 0},
]
ECS_CONTROLLED = ["api", "ec2app", "crashy", "bg", "lin", "can", "paused", "agent"]


@pytest.fixture(scope="module")
def walk() -> Iterator[Recorder]:
    """Drive every operation through the fleet's states once; the tests read the record."""
    scenario = small_scenario()
    cluster = scenario["environments"][0]["clusters"][0]
    cluster["services"] = SERVICES
    cluster["container_instances"] = 2
    recorder = Recorder()
    with Simulator(scenario) as sim:
        ecs = recorder.attach(client(sim, "ecs", "dev"))
        _walk(sim, ecs)
        recorder.served = set(sim.ecs.operations)
    yield recorder


def _describe_everything(ecs: Any, desired: str = "RUNNING") -> None:
    ecs.describe_clusters(clusters=["main"], include=["TAGS"])
    arns = ecs.list_services(cluster="main", maxResults=100)["serviceArns"]
    for i in range(0, len(arns), 10):
        ecs.describe_services(cluster="main", services=arns[i : i + 10], include=["TAGS"])
    for name in ("api", "bg", "lin", "paused", "crashy"):
        for brief in ecs.list_service_deployments(cluster="main", service=name)[
            "serviceDeployments"
        ]:
            sd = ecs.describe_service_deployments(
                serviceDeploymentArns=[brief["serviceDeploymentArn"]]
            )["serviceDeployments"][0]
            revisions = [sd["targetServiceRevision"]["arn"]] + [
                r["arn"] for r in sd.get("sourceServiceRevisions", [])
            ]
            ecs.describe_service_revisions(serviceRevisionArns=revisions)
    tasks = ecs.list_tasks(cluster="main", desiredStatus=desired, maxResults=100)["taskArns"]
    for i in range(0, len(tasks), 100):
        ecs.describe_tasks(cluster="main", tasks=tasks[i : i + 100], include=["TAGS"])


def _walk(sim: Simulator, ecs: Any) -> None:
    ecs.create_cluster(clusterName="spare", tags=[{"key": "team", "value": "platform"}])
    ecs.list_clusters()
    td = ecs.describe_services(cluster="main", services=["api"])["services"][0]["taskDefinition"]
    ecs.create_service(
        cluster="spare",
        serviceName="late",
        taskDefinition=td,
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": ["subnet-0a1b2c3d"], "assignPublicIp": "DISABLED"}
        },
        tags=[{"key": "team", "value": "platform"}],
    )
    for arn in ecs.list_task_definitions()["taskDefinitionArns"]:
        ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    _describe_everything(ecs)

    # A new sidecar under the moving tag, a service whose new tasks crash, new deployments.
    sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"]})
    sim.fail_service("dev", "main", "crashy", "Essential container in task exited")
    current = ecs.describe_task_definition(taskDefinition="api")["taskDefinition"]
    registered = ecs.register_task_definition(
        family="api",
        containerDefinitions=current["containerDefinitions"],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        tags=[{"key": "rollout", "value": "r1"}],
    )["taskDefinition"]
    ecs.update_service(
        cluster="main", service="api", taskDefinition=registered["taskDefinitionArn"]
    )
    for name in ECS_CONTROLLED[1:]:
        ecs.update_service(cluster="main", service=name, forceNewDeployment=True)
    ecs.update_service(cluster="main", service="legacy", desiredCount=3)

    sim.advance(20)  # tasks provisioning and pending
    _describe_everything(ecs)
    sim.advance(5 * 60)  # rolling under way, blue/green baking, the breaker tripping
    _describe_everything(ecs)

    hook = _paused_hook(ecs)
    ecs.continue_service_deployment(serviceDeploymentArn=hook[0], hookId=hook[1])
    lin = ecs.describe_services(cluster="main", services=["lin"])["services"][0]
    ecs.stop_service_deployment(
        serviceDeploymentArn=lin["currentServiceDeployment"], stopType="ROLLBACK"
    )
    running = ecs.list_tasks(cluster="main", serviceName="ec2app")["taskArns"]
    ecs.stop_task(cluster="main", task=running[0], reason="contract walk")
    sim.advance(30)
    _describe_everything(ecs, desired="STOPPED")
    sim.advance(2 * 60 * 60)  # everything settled, rollbacks finished
    _describe_everything(ecs)
    _describe_everything(ecs, desired="STOPPED")

    service_arn = ecs.describe_services(cluster="main", services=["api"])["services"][0][
        "serviceArn"
    ]
    ecs.tag_resource(resourceArn=service_arn, tags=[{"key": "owner", "value": "payments"}])
    ecs.list_tags_for_resource(resourceArn=service_arn)
    ecs.untag_resource(resourceArn=service_arn, tagKeys=["owner"])
    ecs.deregister_task_definition(taskDefinition=registered["taskDefinitionArn"])
    ecs.describe_task_definition(taskDefinition=registered["taskDefinitionArn"])
    ecs.list_task_definitions(status="INACTIVE", sort="DESC")
    ecs.delete_service(cluster="main", service="crashy", force=True)
    ecs.describe_services(cluster="main", services=["crashy", "gone"])
    ecs.describe_clusters(clusters=["main", "nowhere"])
    _refused(ecs)


def _paused_hook(ecs: Any) -> tuple[str, str]:
    svc = ecs.describe_services(cluster="main", services=["paused"])["services"][0]
    arn = svc["currentServiceDeployment"]
    sd = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    return arn, sd["lifecycleHookDetails"][0]["hookId"]


def _refused(ecs: Any) -> None:
    """Requests ECS refuses: their error answers are checked too."""
    calls = [
        lambda: ecs.describe_services(cluster="nowhere", services=["api"]),
        lambda: ecs.describe_services(cluster="main", services=[f"s{i}" for i in range(11)]),
        lambda: ecs.update_service(cluster="main", service="ghost", desiredCount=1),
        lambda: ecs.describe_task_definition(taskDefinition="ghost:1"),
        lambda: ecs.update_service(cluster="main", service="legacy", forceNewDeployment=True),
        lambda: ecs.stop_service_deployment(
            serviceDeploymentArn="arn:aws:ecs:eu-west-1:111111111111:service-deployment/x/y/z"
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError):
            call()


def test_every_operation_the_simulator_serves_was_exercised(walk: Recorder) -> None:
    assert walk.served - walk.operations == set()


def test_every_answer_matches_botocores_service_model(walk: Recorder) -> None:
    assert walk.problems == []


def test_refusals_carry_the_error_codes_ecs_names(walk: Recorder) -> None:
    assert "ClusterNotFoundException" in walk.errors["DescribeServices"]
    assert "InvalidParameterException" in walk.errors["DescribeServices"]
    assert "ServiceNotFoundException" in walk.errors["UpdateService"]
    assert "ClientException" in walk.errors["DescribeTaskDefinition"]
    assert "ServiceDeploymentNotFoundException" in walk.errors["StopServiceDeployment"]


def _first(walk: Recorder, operation: str, member: str, **match: Any) -> dict[str, Any]:
    for answer in walk.answers[operation]:
        items = answer[member] if isinstance(answer[member], list) else [answer[member]]
        for item in items:
            if all(item.get(k) == v for k, v in match.items()):
                return item  # type: ignore[no-any-return]
    raise AssertionError(f"no {operation} answer with {member} matching {match}")


EXAMPLES = [
    # (fixture, the operation whose answers hold the same object, member, which object)
    ("describe-task-definition", "DescribeTaskDefinition", "taskDefinition", {}),
    ("describe-services", "DescribeServices", "service", {"serviceName": "api"}),
    ("describe-tasks", "DescribeTasks", "tasks", {"launchType": "FARGATE"}),
    (
        "describe-tasks-ec2",
        "DescribeTasks",
        "tasks",
        {"launchType": "EC2", "lastStatus": "RUNNING"},
    ),
    ("describe-clusters", "DescribeClusters", "clusters", {"clusterName": "main"}),
    ("describe-service-deployments", "DescribeServiceDeployments", "serviceDeployments", {}),
    ("describe-service-revisions", "DescribeServiceRevisions", "serviceRevisions", {}),
]


@pytest.mark.parametrize(("name", "operation", "member", "match"), EXAMPLES)
def test_answers_carry_every_member_of_awss_example(
    walk: Recorder, name: str, operation: str, member: str, match: dict[str, Any]
) -> None:
    example = fixture(name)
    expected = example["response"][member]
    if isinstance(expected, list):
        expected = expected[0]
    # DescribeServices answers `services`; the example is UpdateService's `service`.
    answers_member = "services" if operation == "DescribeServices" else member
    answer = _first(walk, operation, answers_member, **match)
    missing = missing_members(expected, answer, member)
    assert [path for path in missing if path not in example["optional"]] == []


def test_the_checker_finds_what_the_model_does_not_allow() -> None:
    model = ecs_model()
    body = {
        "services": [
            {
                "serviceName": 5,
                "launchType": "LAMBDA",
                "createdAt": "2024-10-31T08:03:30Z",
                "desiredCount": True,
                "unknownMember": [],
                "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True}},
            }
        ]
    }
    problems = check_answer(
        model.operation_model("DescribeServices"), 200, json.dumps(body).encode()
    )
    assert [problem.split(":")[0] for problem in problems] == [
        "DescribeServices $.services[0].serviceName (String)",
        "DescribeServices $.services[0].launchType (LaunchType)",
        "DescribeServices $.services[0].createdAt (Timestamp)",
        "DescribeServices $.services[0].desiredCount (Integer)",
        "DescribeServices $.services[0].unknownMember",
        "DescribeServices $.services[0].deploymentConfiguration.deploymentCircuitBreaker.rollback",
    ]
    error = json.dumps({"__type": "NoSuchThing", "message": "x"}).encode()
    assert check_answer(model.operation_model("DescribeServices"), 400, error) == [
        "DescribeServices: error 'NoSuchThing' is neither modeled nor common"
    ]
