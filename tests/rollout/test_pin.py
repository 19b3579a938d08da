"""pin.py: the pinned revision equals the current one but for the images, all pinned: the
sidecar to the target, the others to what they run now. Built from botocore's model."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from fleetpatch.rollout.pin import (
    ROLLOUT_TAG,
    SOURCE_TAG,
    TARGET_TAG,
    PinError,
    pin_request,
    pinned_image,
    request_members,
    reusable,
)

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


OWNER = [
    {"key": ROLLOUT_TAG, "value": "r-0123456789ab"},
    {"key": TARGET_TAG, "value": DIGEST},
    {"key": SOURCE_TAG, "value": "3"},
]


def test_only_the_sidecar_image_changes() -> None:
    original = answer()
    request = pin_request(
        original, "log_router", DIGEST, members=MEMBERS, rollout_id="r-0123456789ab"
    )
    assert original == answer(), "the input is not modified"
    expected = copy.deepcopy(original["taskDefinition"])
    for name in READ_ONLY:
        expected.pop(name, None)
    expected["containerDefinitions"][1]["image"] = f"{IMAGE}@{DIGEST}"
    # The revision's own tags, then whose the new revision is.
    expected["tags"] = [{"key": "team", "value": "payments"}, *OWNER]
    assert request == expected


def test_aws_tags_and_an_earlier_rollouts_owner_tags_are_not_copied() -> None:
    described = answer()
    described["tags"] = [
        {"key": "team", "value": "payments"},
        {"key": "aws:cloudformation:stack-name", "value": "shop"},
        {"key": "AWS:Foo", "value": "x"},
        {"key": "note", "value": "aws:set-by-aws"},
        {"key": ROLLOUT_TAG, "value": "r-older"},
        {"key": TARGET_TAG, "value": "sha256:" + "0" * 64},
        {"key": SOURCE_TAG, "value": "2"},
    ]
    request = pin_request(
        described, "log_router", DIGEST, members=MEMBERS, rollout_id="r-0123456789ab"
    )
    assert request["tags"] == [{"key": "team", "value": "payments"}, *OWNER]


@pytest.mark.parametrize(("own", "owner_tags"), [(47, True), (48, False), (50, False)])
def test_the_teams_tags_come_first_when_ecs_50_tags_leave_no_room(
    own: int, owner_tags: bool
) -> None:
    described = answer()
    described["tags"] = [{"key": f"k{n}", "value": str(n)} for n in range(own)]
    described["tags"].append({"key": "aws:ecs:managed", "value": "x"})  # not counted
    request = pin_request(described, "log_router", DIGEST, members=MEMBERS, rollout_id="r-1")
    keys = [t["key"] for t in request["tags"]]
    assert keys[:own] == [f"k{n}" for n in range(own)]
    assert len(keys) <= 50
    assert (ROLLOUT_TAG in keys) is owner_tags
    assert keys[own:] == ([ROLLOUT_TAG, TARGET_TAG, SOURCE_TAG] if owner_tags else [])


def registered(request: dict[str, Any], revision: int) -> dict[str, Any]:
    """DescribeTaskDefinition's answer for a revision registered with `request`."""
    definition = {k: v for k, v in copy.deepcopy(request).items() if k != "tags"}
    definition.update(revision=revision, status="ACTIVE")
    return {"taskDefinition": definition, "tags": copy.deepcopy(request.get("tags", []))}


def test_a_revision_registered_for_the_same_request_is_reusable() -> None:
    request = pin_request(answer(), "log_router", DIGEST, members=MEMBERS, rollout_id="r-1")
    assert reusable(registered(request, 4), request)
    # ... even by an earlier run (a rerun after kill -9 has another rollout id)
    rerun = pin_request(answer(), "log_router", DIGEST, members=MEMBERS, rollout_id="r-2")
    assert reusable(registered(request, 4), rerun)


def test_a_revision_for_another_target_source_or_images_is_not_reusable() -> None:
    request = pin_request(answer(), "log_router", DIGEST, members=MEMBERS, rollout_id="r-1")
    other_target = pin_request(
        answer(), "log_router", "sha256:" + "e" * 64, members=MEMBERS, rollout_id="r-1"
    )
    assert not reusable(registered(other_target, 4), request)
    # Another service of the family, pinned from another revision of it.
    other_source = answer()
    other_source["taskDefinition"]["revision"] = 2
    from_two = pin_request(other_source, "log_router", DIGEST, members=MEMBERS, rollout_id="r-1")
    assert not reusable(registered(from_two, 4), request)
    # Same source, but its tasks ran another app image.
    other_app = pin_request(
        answer(),
        "log_router",
        DIGEST,
        members=MEMBERS,
        rollout_id="r-1",
        others={"app": "sha256:" + "a" * 64},
    )
    assert not reusable(registered(other_app, 4), request)
    # Someone's revision with the same images but no fleetpatch tags.
    theirs = registered(request, 4)
    theirs["tags"] = [{"key": "team", "value": "payments"}]
    assert not reusable(theirs, request)
    # No owner tags on the request (no room): nothing can be proven to be ours.
    assert not reusable(registered(request, 4), {**request, "tags": []})


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
