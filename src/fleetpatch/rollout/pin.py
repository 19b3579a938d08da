"""Pin mode: a task definition revision identical to the current one but for the sidecar image.

Pure: DescribeTaskDefinition's answer in, RegisterTaskDefinition's request out. The sidecar
container's `image` becomes `registry/repository@sha256:<target>`, so the new revision can't
drift when the moving tag moves again; every other container is pinned to the digest its
tasks run now, so nothing but the sidecar can change (a tag that moved since they started
does not ship with the patch). Everything else (cpu/memory, roles, volumes,
runtimePlatform, tags ...) is copied as it is.

Whose revision it is. Given the rollout's id, the new revision also carries tags that say who
registered it and for what (`OWNER_TAGS`): the rollout id, the target digest and the revision it
was pinned from. RegisterTaskDefinition is not idempotent, so after an answer that may have been
lost the executor looks for such a revision before registering again (`reusable`, rollout/act.py).
ECS's tag rules (API reference, Tag): at most 50 tags per resource, keys and values starting
with `aws:` (any case) are AWS's own (a request may not set them; they don't count towards the
50). So `aws:` tags are not copied, and a revision whose own tags leave no room for all three
owner tags gets none of them (the team's tags come first; without them a lost answer may leave
a spare revision, never a second deployment: docs/rollout.md).

The request keeps only RegisterTaskDefinition's input members, as botocore's model of the
operation names them (`request_members`), so a member ECS adds to DescribeTaskDefinition's
answer later can't break the call.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from fleetpatch.core.images import parse_image

ROLLOUT_TAG = "fleetpatch:rollout-id"
TARGET_TAG = "fleetpatch:target"
SOURCE_TAG = "fleetpatch:source-revision"
OWNER_TAGS = (ROLLOUT_TAG, TARGET_TAG, SOURCE_TAG)
# ECS: "Maximum number of tags per resource - 50"; `aws:` tags don't count and can't be set.
MAX_TAGS = 50
RESERVED_PREFIX = "aws:"


class PinError(ValueError):
    """The task definition has no container of that name."""


def pinned_image(image: str, digest: str) -> str:
    """`host/fluent-bit:latest` (or `...@sha256:old`) -> `host/fluent-bit@<digest>`."""
    ref = parse_image(image)
    prefix = f"{ref.registry}/" if ref.registry else ""
    return f"{prefix}{ref.repository}@{digest}"


def request_members(ecs: Any) -> frozenset[str]:
    """RegisterTaskDefinition's input members, from the client's botocore model."""
    operation = ecs.meta.service_model.operation_model("RegisterTaskDefinition")
    return frozenset(operation.input_shape.members)


def pin_request(
    describe_answer: dict[str, Any],
    container: str,
    digest: str,
    *,
    members: frozenset[str],
    others: Mapping[str, str] | None = None,
    rollout_id: str | None = None,
) -> dict[str, Any]:
    """The RegisterTaskDefinition request for `describe_answer` with `container` pinned to
    `digest` and each container of `others` (name -> digest) pinned to its digest.

    `describe_answer` is DescribeTaskDefinition's whole answer (call it with
    include=["TAGS"] so that the revision keeps its tags); `members` are the operation's
    input members (`request_members`). With `rollout_id`, the revision carries the owner tags
    (`OWNER_TAGS`) too, room permitting.
    """
    described: dict[str, Any] = copy.deepcopy(describe_answer["taskDefinition"])
    definition = {name: value for name, value in described.items() if name in members}
    others = others or {}
    found = False
    for container_definition in definition.get("containerDefinitions", []):
        name = container_definition.get("name")
        if name == container:
            container_definition["image"] = pinned_image(container_definition["image"], digest)
            found = True
        elif name in others:
            container_definition["image"] = pinned_image(
                container_definition["image"], others[name]
            )
    if not found:
        family = definition.get("family", "?")
        raise PinError(f"task definition {family} has no container named {container}")
    owner: dict[str, str] = {}
    if rollout_id is not None:
        owner = {
            ROLLOUT_TAG: rollout_id,
            TARGET_TAG: digest,
            SOURCE_TAG: str(described.get("revision", "")),
        }
    tags = revision_tags(describe_answer.get("tags") or [], owner)
    if tags and "tags" in members:
        definition["tags"] = tags
    return definition


def revision_tags(
    copied: Sequence[Mapping[str, str]], owner: Mapping[str, str]
) -> list[dict[str, str]]:
    """The current revision's tags, less AWS's own (`aws:...`, which a request may not set)
    and less an earlier rollout's owner tags, plus `owner` when all of it fits in ECS's 50."""
    kept = [
        {"key": tag["key"], "value": tag.get("value", "")}
        for tag in copied
        if not _reserved(tag) and tag["key"] not in OWNER_TAGS
    ]
    if owner and len(kept) + len(owner) <= MAX_TAGS:
        kept.extend({"key": key, "value": value} for key, value in owner.items())
    return kept


def _reserved(tag: Mapping[str, str]) -> bool:
    key, value = tag["key"], tag.get("value", "")
    return key.lower().startswith(RESERVED_PREFIX) or value.lower().startswith(RESERVED_PREFIX)


def reusable(describe_answer: Mapping[str, Any], request: Mapping[str, Any]) -> bool:
    """Pure: is this described revision (DescribeTaskDefinition with include=["TAGS"]) one
    fleetpatch registered for `request` (pin_request's answer, with owner tags)? Same target
    and same source revision by its owner tags, and the same image in every container (the
    other containers are pinned to what each service's tasks run, which may differ between
    two services of one family)."""
    wanted = {tag["key"]: tag["value"] for tag in request.get("tags", [])}
    if not all(key in wanted for key in (TARGET_TAG, SOURCE_TAG)):
        return False
    found = {tag["key"]: tag.get("value", "") for tag in describe_answer.get("tags") or []}
    if ROLLOUT_TAG not in found:
        return False
    if any(found.get(key) != wanted[key] for key in (TARGET_TAG, SOURCE_TAG)):
        return False
    described = describe_answer.get("taskDefinition") or {}
    if described.get("family") != request.get("family"):
        return False
    return _images(described) == _images(request)


def _images(definition: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(c.get("name")): str(c.get("image")) for c in definition.get("containerDefinitions", [])
    }
