"""Reading ECR: every digest of a repository, its tags, push time, and the lifecycle policy.

A repository is listed whole with DescribeImages (1000 images a page) rather than asked for
specific digests: real ECR fails a whole DescribeImages call with ImageNotFoundException
when one of the requested imageIds is missing, and a missing digest (expired by a lifecycle
policy) is exactly what inventory must be able to report. One page also answers every
service of the environment at once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from fleetpatch.core.images import ImageInfo
from fleetpatch.core.snapshot import RepositorySnapshot

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

IMAGES_PER_PAGE = 1000


class Registry(Protocol):
    """Where image digests, tags and lifecycle policies come from (ECR)."""

    def repository(self, name: str) -> RepositorySnapshot:
        """The repository's images and lifecycle policy; `error` set when it cannot be read."""
        ...


class EcrRegistry:
    """The environment's own ECR registry (its account and region)."""

    def __init__(self, ecr: ECRClient) -> None:
        self._ecr = ecr

    def repository(self, name: str) -> RepositorySnapshot:
        try:
            images = self._images(name)
        except ClientError as exc:
            if _code(exc) == "RepositoryNotFoundException":
                return RepositorySnapshot(name, error=f"ECR repository {name} does not exist")
            raise
        return RepositorySnapshot(name, images=images, lifecycle_policy=self._policy(name))

    def _images(self, name: str) -> tuple[ImageInfo, ...]:
        paginator = self._ecr.get_paginator("describe_images")
        images: list[ImageInfo] = []
        pages = paginator.paginate(
            repositoryName=name, PaginationConfig={"PageSize": IMAGES_PER_PAGE}
        )
        for page in pages:
            images.extend(_image_info(dict(detail)) for detail in page["imageDetails"])
        return tuple(images)

    def _policy(self, name: str) -> dict[str, Any] | None:
        try:
            answer = self._ecr.get_lifecycle_policy(repositoryName=name)
        except ClientError as exc:
            if _code(exc) == "LifecyclePolicyNotFoundException":
                return None
            raise
        policy: dict[str, Any] = json.loads(answer.get("lifecyclePolicyText") or "{}")
        return policy


def _image_info(detail: dict[str, Any]) -> ImageInfo:
    pushed = detail.get("imagePushedAt")
    return ImageInfo(
        digest=str(detail["imageDigest"]),
        tags=tuple(sorted(detail.get("imageTags") or ())),
        pushed_at=pushed if isinstance(pushed, datetime) else None,
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
