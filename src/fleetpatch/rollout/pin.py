"""Pin mode: a task definition revision identical to the current one but for the sidecar image.

Pure: DescribeTaskDefinition's answer in, RegisterTaskDefinition's request out. Only the
sidecar container's `image` changes, to `registry/repository@sha256:...`, so the new
revision can't drift when the moving tag moves again. Everything else (other containers,
cpu/memory, roles, volumes, runtimePlatform, tags ...) is copied as it is.
"""

from __future__ import annotations

import copy
from typing import Any

from fleetpatch.core.images import parse_image

# Members DescribeTaskDefinition returns that RegisterTaskDefinition does not accept: ECS
# sets them itself.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)


class PinError(ValueError):
    """The task definition has no container of that name."""


def pinned_image(image: str, digest: str) -> str:
    """`host/fluent-bit:latest` (or `...@sha256:old`) -> `host/fluent-bit@<digest>`."""
    ref = parse_image(image)
    prefix = f"{ref.registry}/" if ref.registry else ""
    return f"{prefix}{ref.repository}@{digest}"


def pin_request(describe_answer: dict[str, Any], container: str, digest: str) -> dict[str, Any]:
    """The RegisterTaskDefinition request for `describe_answer` with `container` pinned.

    `describe_answer` is DescribeTaskDefinition's whole answer (call it with
    include=["TAGS"] so that the revision keeps its tags).
    """
    definition: dict[str, Any] = copy.deepcopy(describe_answer["taskDefinition"])
    for name in READ_ONLY_FIELDS:
        definition.pop(name, None)
    found = False
    for container_definition in definition.get("containerDefinitions", []):
        if container_definition.get("name") == container:
            container_definition["image"] = pinned_image(container_definition["image"], digest)
            found = True
    if not found:
        family = definition.get("family", "?")
        raise PinError(f"task definition {family} has no container named {container}")
    tags = describe_answer.get("tags") or []
    if tags:
        definition["tags"] = copy.deepcopy(tags)
    return definition
