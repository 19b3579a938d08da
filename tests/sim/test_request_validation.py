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
