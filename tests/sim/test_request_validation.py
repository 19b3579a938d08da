"""Requests refused as ECS refuses them, through boto3 over HTTP: the batch limits of the
Describe* calls (API reference: DescribeServices 10 services, DescribeTasks 100 tasks,
DescribeClusters 100, DescribeServiceDeployments and DescribeServiceRevisions 20 ARNs), and
settings that conflict or lack what they need."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fleetpatch.sim.seeding import NETWORK_CONFIGURATION

ARN = "arn:aws:ecs:eu-west-1:111111111111"


def refused(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    error = err.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.mark.parametrize(
    ("operation", "params", "limit"),
    [
        ("describe_services", {"cluster": "main", "services": ["s{}"]}, 10),
        ("describe_tasks", {"cluster": "main", "tasks": ["t{}"]}, 100),
        ("describe_clusters", {"clusters": ["c{}"]}, 100),
        (
            "describe_service_deployments",
            {"serviceDeploymentArns": [f"{ARN}:service-deployment/main/api/{{}}"]},
            20,
        ),
        (
            "describe_service_revisions",
            {"serviceRevisionArns": [f"{ARN}:service-revision/main/api/{{}}"]},
            20,
        ),
    ],
)
def test_describe_calls_take_at_most_their_batch(
    aws: Any, operation: str, params: dict[str, Any], limit: int
) -> None:
    ecs = aws("ecs")
    (member, template), *rest = params.items()
    if member == "cluster":
        (member, template), rest = rest[0], [("cluster", "main")]
    call = getattr(ecs, operation)
    batch = {member: [template[0].format(i) for i in range(limit)], **dict(rest)}
    answer = call(**batch)  # a full batch is answered, unknown items as failures
    assert len(answer["failures"]) == limit
    batch[member].append(template[0].format(limit))
    code, _ = refused(call, **batch)
    assert code == "InvalidParameterException"


def test_a_launch_type_and_a_capacity_provider_strategy_exclude_each_other(aws: Any) -> None:
    ecs = aws("ecs")
    code, message = refused(
        ecs.create_service,
        cluster="main",
        serviceName="both",
        taskDefinition="api",
        desiredCount=1,
        launchType="FARGATE",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration=NETWORK_CONFIGURATION,
    )
    assert code == "InvalidParameterException"
    assert message.startswith("Specifying both a launch type and capacity provider strategy")


def test_an_awsvpc_service_needs_its_network_configuration(aws: Any) -> None:
    code, message = refused(
        aws("ecs").create_service,
        cluster="main",
        serviceName="nonet",
        taskDefinition="api",
        desiredCount=1,
        launchType="FARGATE",
    )
    assert code == "InvalidParameterException"
    assert message == (
        "Network Configuration must be provided when networkMode 'awsvpc' is specified."
    )


@pytest.mark.parametrize(
    ("launch_type", "strategy", "words"),
    [
        ("FARGATE", [{"type": "spread", "field": "instanceId"}], "not supported with FARGATE"),
        ("EC2", [{"type": "sideways"}], "Invalid placement strategy type"),
        ("EC2", [{"type": "spread"}], "A field must be specified"),
        ("EC2", [{"type": "binpack", "field": "disk"}], "Valid values are cpu, memory"),
    ],
)
def test_placement_strategies_are_checked(
    aws: Any, launch_type: str, strategy: list[dict[str, str]], words: str
) -> None:
    code, message = refused(
        aws("ecs").create_service,
        cluster="main",
        serviceName="placed",
        taskDefinition="api",
        desiredCount=1,
        launchType=launch_type,
        placementStrategy=strategy,
        networkConfiguration=NETWORK_CONFIGURATION,
    )
    assert code == "InvalidParameterException"
    assert words in message


def test_a_valid_placement_strategy_is_accepted_on_ec2(aws: Any) -> None:
    service = aws("ecs").create_service(
        cluster="main",
        serviceName="placed",
        taskDefinition="api",
        desiredCount=1,
        launchType="EC2",
        placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}],
        networkConfiguration=NETWORK_CONFIGURATION,
    )["service"]
    assert service["launchType"] == "EC2"


def task_definition(**extra: Any) -> dict[str, Any]:
    containers = [{"name": "app", "image": "nginx:1", "memory": 128}]
    return {"family": "tagged", "containerDefinitions": containers, **extra}


def tags(n: int, prefix: str = "k") -> list[dict[str, str]]:
    return [{"key": f"{prefix}{i}", "value": str(i)} for i in range(n)]


@pytest.mark.parametrize(
    "bad",
    [
        tags(51),
        [{"key": "aws:cloudformation:stack-name", "value": "shop"}],
        [{"key": "AWS:x", "value": "1"}],
        [{"key": "team", "value": "aws:payments"}],
        [{"key": "k" * 129, "value": "1"}],
        [{"key": "team", "value": "v" * 257}],
        [{"key": "team!", "value": "1"}],
    ],
)
def test_register_task_definition_takes_tags_by_ecs_rules_and_registers_nothing_else(
    aws: Any, bad: list[dict[str, str]]
) -> None:
    """The API reference's tag rules: 50 tags, key 1-128 and value 0-256 characters of
    letters, numbers, spaces and _.:/=+-@, `aws:` reserved in keys and values."""
    ecs = aws("ecs")
    code, _ = refused(ecs.register_task_definition, **task_definition(tags=bad))
    assert code == "InvalidParameterException"
    assert ecs.list_task_definitions(familyPrefix="tagged")["taskDefinitionArns"] == []


def test_tag_resource_keeps_a_resource_within_50_tags(aws: Any) -> None:
    ecs = aws("ecs")
    good = [*tags(48), {"key": "Team name", "value": "paiements-é/=+@:._-"}]
    arn = ecs.register_task_definition(**task_definition(tags=good))["taskDefinition"][
        "taskDefinitionArn"
    ]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "k0", "value": "again"}])  # replaces
    ecs.tag_resource(resourceArn=arn, tags=tags(1, "fifty"))
    code, _ = refused(ecs.tag_resource, resourceArn=arn, tags=tags(1, "fifty-one"))
    assert code == "InvalidParameterException"
    described = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    assert len(described["tags"]) == 50


def test_list_task_definitions_filters_by_the_full_family_newest_first(aws: Any) -> None:
    """familyPrefix is "the full family name" (API reference): `tagged` does not list
    `tagged-worker`; sort=DESC lists the newest revision first; status ACTIVE by default."""
    ecs = aws("ecs")
    arns = [
        ecs.register_task_definition(**task_definition())["taskDefinition"]["taskDefinitionArn"]
        for _ in range(3)
    ]
    ecs.register_task_definition(**task_definition(family="tagged-worker"))
    ecs.deregister_task_definition(taskDefinition=arns[1])
    listed = ecs.list_task_definitions(familyPrefix="tagged", sort="DESC")
    assert listed["taskDefinitionArns"] == [arns[2], arns[0]]
    inactive = ecs.list_task_definitions(familyPrefix="tagged", status="INACTIVE")
    assert inactive["taskDefinitionArns"] == [arns[1]]
    ascending = ecs.list_task_definitions(familyPrefix="tagged")
    assert ascending["taskDefinitionArns"] == [arns[0], arns[2]]
