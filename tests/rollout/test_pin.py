"""pin.py: the pinned revision equals the current one but for the images, all pinned: the
sidecar to the target, the others to what they run now. Built from botocore's model."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from fleetpatch.rollout.pin import PinError, pin_request, pinned_image, request_members

# RegisterTaskDefinition's input members, from botocore's model (no call is made).
MEMBERS = request_members(boto3.client("ecs", region_name="eu-west-1"))
READ_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
)

DIGEST = "sha256:" + "c" * 64
IMAGE = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/fluent-bit"


def answer() -> dict[str, Any]:
    return {
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111111111111:task-definition/api:3",
            "family": "api",
            "revision": 3,
            "status": "ACTIVE",
            "requiresAttributes": [{"name": "ecs.capability.firelens.fluentbit"}],
            "compatibilities": ["EC2", "FARGATE"],
            "registeredAt": "2026-11-01T00:00:00Z",
            "registeredBy": "arn:aws:iam::111111111111:role/ci",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "512",
            "memory": "1024",
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": f"{IMAGE[:-10]}api:1",
                    "environment": [{"name": "A", "value": "1"}],
                },
                {
                    "name": "log_router",
                    "image": f"{IMAGE}:latest",
                    "firelensConfiguration": {"type": "fluentbit"},
                },
            ],
        },
        "tags": [{"key": "team", "value": "payments"}],
    }


def test_only_the_sidecar_image_changes() -> None:
    original = answer()
    request = pin_request(original, "log_router", DIGEST, members=MEMBERS)
    assert original == answer(), "the input is not modified"
    expected = copy.deepcopy(original["taskDefinition"])
    for name in READ_ONLY:
        expected.pop(name, None)
    expected["containerDefinitions"][1]["image"] = f"{IMAGE}@{DIGEST}"
    expected["tags"] = [{"key": "team", "value": "payments"}]
    assert request == expected


def test_pinned_image_replaces_tag_or_digest() -> None:
    assert pinned_image(f"{IMAGE}:latest", DIGEST) == f"{IMAGE}@{DIGEST}"
    assert pinned_image(f"{IMAGE}@sha256:{'d' * 64}", DIGEST) == f"{IMAGE}@{DIGEST}"
    assert pinned_image("fluent/fluent-bit:3.0", DIGEST) == f"fluent/fluent-bit@{DIGEST}"


def test_unknown_container() -> None:
    with pytest.raises(PinError, match="no container named envoy"):
        pin_request(answer(), "envoy", DIGEST, members=MEMBERS)


def test_the_other_containers_are_pinned_to_what_they_run() -> None:
    app_digest = "sha256:" + "a" * 64
    request = pin_request(
        answer(), "log_router", DIGEST, members=MEMBERS, others={"app": app_digest}
    )
    images = [c["image"] for c in request["containerDefinitions"]]
    assert images == [f"{IMAGE[:-10]}api@{app_digest}", f"{IMAGE}@{DIGEST}"]


def test_members_the_operation_does_not_take_are_left_out() -> None:
    described = answer()
    # Say ECS adds a read-only member to DescribeTaskDefinition's answer one day.
    described["taskDefinition"]["someFutureReadOnlyMember"] = {"x": 1}
    request = pin_request(described, "log_router", DIGEST, members=MEMBERS)
    assert "someFutureReadOnlyMember" not in request
    assert set(request) <= MEMBERS
