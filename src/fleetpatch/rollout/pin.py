"""Pin mode: a task definition revision identical to the current one but for the sidecar image.

Pure: DescribeTaskDefinition's answer in, RegisterTaskDefinition's request out. The sidecar
container's `image` becomes `registry/repository@sha256:<target>`, so the new revision can't
drift when the moving tag moves again; every other container is pinned to the digest its
tasks run now, so nothing but the sidecar can change (a tag that moved since they started
does not ship with the patch). Everything else (cpu/memory, roles, volumes,
runtimePlatform, tags ...) is copied as it is.

The request keeps only RegisterTaskDefinition's input members, as botocore's model of the
operation names them (`request_members`), so a member ECS adds to DescribeTaskDefinition's
answer later can't break the call.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fleetpatch.core.images import parse_image


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
) -> dict[str, Any]:
    """The RegisterTaskDefinition request for `describe_answer` with `container` pinned to
    `digest` and each container of `others` (name -> digest) pinned to its digest.

    `describe_answer` is DescribeTaskDefinition's whole answer (call it with
    include=["TAGS"] so that the revision keeps its tags); `members` are the operation's
    input members (`request_members`).
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
    tags = describe_answer.get("tags") or []
    if tags and "tags" in members:
        definition["tags"] = copy.deepcopy(tags)
    return definition
