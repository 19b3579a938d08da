"""Where image digests and tags come from: one small interface, three registries.

- `EcrRegistry(ecr)`: the environment's own ECR; also its lifecycle policy.
- `EcrRegistry(ecr, registry_id=..., host=...)`: another account's ECR (a shared registry
  account), through a client for the region in the image host; DescribeImages and
  BatchGetImage take `registryId`, and the registry's repository policy must let the
  environment's credentials read (as it must for its tasks to pull).
- `OciRegistry(host, endpoint_url)` (oci.py): any other registry, ECR Public included.

`open_registry` picks one for a `RegistryLocation` (core.images.locate).

An ECR repository is listed whole with DescribeImages (1000 images a page) rather than asked
for specific digests: real ECR fails a whole DescribeImages call with ImageNotFoundException
when one of the requested imageIds is missing, and a missing digest (expired by a lifecycle
policy) is exactly what inventory must be able to report. One page also answers every
service of the environment at once.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.core.images import ImageInfo, ImageRef, RegistryLocation, locate
from fleetpatch.core.snapshot import RepositorySnapshot
from fleetpatch.inventory.oci import TIMEOUT_SECONDS, Manifest, OciRegistry, RegistryError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

    from fleetpatch.aws.session import AwsEnvironment

IMAGES_PER_PAGE = 1000
TAGS_PER_BATCH = 100  # BatchGetImage's imageIds limit

# Every manifest type ECR stores; without them BatchGetImage may convert to schema 1.
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]

__all__ = [
    "EcrRegistry",
    "Manifest",
    "OciRegistry",
    "Registry",
    "RegistryError",
    "RegistryOpener",
    "open_origin",
    "open_registry",
    "registry_opener",
]


class Registry(Protocol):
    """What fleetpatch reads from a registry: tags and digests, manifests, config blobs."""

    def repository(
        self, name: str, tags: Sequence[str] = (), digests: Sequence[str] = ()
    ) -> RepositorySnapshot:
        """The repository's images (at least `tags` and `digests`, where they exist);
        `error` set, one line, when it cannot be read."""
        ...

    def tag_digest(self, name: str, tag: str) -> str | None:
        """Where `tag` points now, or None."""
        ...

    def tag_digests(self, name: str, tags: Sequence[str]) -> dict[str, str]:
        """tag -> where it points now, for those of `tags` the repository has (none when
        the repository doesn't exist); raises RegistryError when it can't be read."""
        ...

    def manifest(self, name: str, reference: str) -> Manifest | None:
        """The manifest (or index) of a digest or tag; None when absent."""
        ...

    def blob(self, name: str, digest: str) -> bytes:
        """A blob of the repository (an image config); raises RegistryError."""
        ...


class EcrRegistry:
    """An ECR registry: the environment's own (`registry_id` None) or another account's."""

    def __init__(self, ecr: ECRClient, registry_id: str | None = None, host: str = "") -> None:
        self._ecr = ecr
        self._registry_id = registry_id
        self.host = host  # "" for the environment's own registry (RepositorySnapshot.registry)

    def _request(self, name: str, **members: Any) -> dict[str, Any]:
        """A request for repository `name`, with `registryId` when it is another account's."""
        request: dict[str, Any] = {"repositoryName": name, **members}
        if self._registry_id:
            request["registryId"] = self._registry_id
        return request

    def _where(self, name: str) -> str:
        if self._registry_id is None:
            return f"ECR repository {name}"
        return f"ECR repository {name} of account {self._registry_id} ({self.host})"

    def repository(
        self, name: str, tags: Sequence[str] = (), digests: Sequence[str] = ()
    ) -> RepositorySnapshot:
        try:
            images = self._images(name)
            policy = self._policy(name) if self._registry_id is None else None
        except ClientError as exc:
            if _code(exc) == "RepositoryNotFoundException":
                error = f"{self._where(name)} does not exist"
            elif self._registry_id is not None:
                error = self._refusal(name, exc)
            else:
                raise
            return RepositorySnapshot(name, error=error, registry=self.host)
        except BotoCoreError as exc:
            if self._registry_id is None:
                raise
            return RepositorySnapshot(name, error=f"{self._where(name)}: {exc}", registry=self.host)
        return RepositorySnapshot(name, images=images, lifecycle_policy=policy, registry=self.host)

    def _images(self, name: str) -> tuple[ImageInfo, ...]:
        paginator = self._ecr.get_paginator("describe_images")
        images: list[ImageInfo] = []
        pages = paginator.paginate(
            **self._request(name, PaginationConfig={"PageSize": IMAGES_PER_PAGE})
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

    def tag_digest(self, name: str, tag: str) -> str | None:
        try:
            answer = self._ecr.describe_images(**self._request(name, imageIds=[{"imageTag": tag}]))
        except ClientError as exc:
            if _code(exc) == "ImageNotFoundException":
                return None
            raise
        details = answer.get("imageDetails", [])
        return str(details[0]["imageDigest"]) if details else None

    def tag_digests(self, name: str, tags: Sequence[str]) -> dict[str, str]:
        """One BatchGetImage per 100 tags: unlike DescribeImages it reports a missing tag
        per image (`failures`) instead of failing the whole call."""
        ordered = sorted(set(tags))
        digests: dict[str, str] = {}
        for start in range(0, len(ordered), TAGS_PER_BATCH):
            batch = ordered[start : start + TAGS_PER_BATCH]
            try:
                answer = self._ecr.batch_get_image(
                    **self._request(name, imageIds=[{"imageTag": tag} for tag in batch])
                )
            except ClientError as exc:
                if _code(exc) == "RepositoryNotFoundException":
                    return {}
                if self._registry_id is None:
                    raise
                raise RegistryError(self._refusal(name, exc)) from None
            except BotoCoreError as exc:
                if self._registry_id is None:
                    raise
                raise RegistryError(f"{self._where(name)}: {exc}") from None
            for image in answer.get("images", []):
                image_id = image.get("imageId", {})
                if image_id.get("imageTag") and image_id.get("imageDigest"):
                    digests[str(image_id["imageTag"])] = str(image_id["imageDigest"])
        return digests

    def image_status(self, name: str, digest: str) -> str | None:
        """The image's imageStatus (ACTIVE, ARCHIVED, ACTIVATING); None when ECR says none
        (or, in another account's registry, can't be read)."""
        try:
            answer = self._ecr.describe_images(
                **self._request(name, imageIds=[{"imageDigest": digest}])
            )
        except ClientError:
            if self._registry_id is None:
                raise
            return None
        for detail in answer.get("imageDetails", []):
            status = detail.get("imageStatus")
            return str(status) if status else None
        return None

    def tag_mutability(self, name: str) -> tuple[str, tuple[str, ...]]:
        """The repository's imageTagMutability and its exclusion filters (MUTABLE when
        another account's repository can't be read: the re-tag itself will say)."""
        try:
            answer = self._ecr.describe_repositories(**self._names(name))
        except ClientError:
            if self._registry_id is None:
                raise
            return "MUTABLE", ()
        for found in answer.get("repositories", []):
            filters = tuple(
                str(f["filter"]) for f in found.get("imageTagMutabilityExclusionFilters", [])
            )
            return str(found.get("imageTagMutability") or "MUTABLE"), filters
        return "MUTABLE", ()

    def _names(self, name: str) -> dict[str, Any]:
        request: dict[str, Any] = {"repositoryNames": [name]}
        if self._registry_id:
            request["registryId"] = self._registry_id
        return request

    def _refusal(self, name: str, exc: ClientError) -> str:
        """One line for another account's refusal."""
        code = _code(exc)
        if code.startswith("AccessDenied"):
            return (
                f"{self._where(name)}: access denied; its repository policy must allow "
                "ecr:DescribeImages and ecr:BatchGetImage to this environment's account"
            )
        return f"{self._where(name)}: {exc.operation_name} failed: {code}"

    def manifest(self, name: str, reference: str) -> Manifest | None:
        key = "imageDigest" if reference.startswith("sha256:") else "imageTag"
        answer = self._ecr.batch_get_image(
            **self._request(name, imageIds=[{key: reference}], acceptedMediaTypes=MANIFEST_TYPES)
        )
        images = answer.get("images", [])
        if not images:
            return None
        image = images[0]
        body = str(image.get("imageManifest", "")).encode()
        digest = str(image.get("imageId", {}).get("imageDigest") or reference)
        return Manifest(digest, str(image.get("imageManifestMediaType") or ""), body)

    def blob(self, name: str, digest: str) -> bytes:
        """GetDownloadUrlForLayer (config blobs count as layers), then the URL's bytes."""
        try:
            answer = self._ecr.get_download_url_for_layer(**self._request(name, layerDigest=digest))
        except ClientError as exc:
            raise RegistryError(f"{self._where(name)}: no blob {digest} ({_code(exc)})") from None
        url = str(answer["downloadUrl"])
        try:
            # A pre-signed URL: no credentials of ours go with it.
            with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
                data: bytes = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise RegistryError(f"{self._where(name)}: blob {digest}: {exc}") from None
        return data


def open_registry(
    aws: AwsEnvironment, location: RegistryLocation, endpoints: Mapping[str, str]
) -> Registry:
    """The registry `location` names, reached from the environment `aws`. `endpoints`: the
    config's [[registries]] endpoint overrides, OCI host -> URL."""
    if location.kind == "own":
        return EcrRegistry(aws.ecr())
    if location.kind == "ecr":
        assert location.account is not None and location.region is not None
        return EcrRegistry(aws.ecr(location.region), location.account, location.host)
    return OciRegistry(location.host, endpoints.get(location.host))


# Opens the registry a location names (open_registry, bound to an environment and the config).
RegistryOpener = Callable[[RegistryLocation], Registry]


def registry_opener(aws: AwsEnvironment, endpoints: Mapping[str, str]) -> RegistryOpener:
    """`open_registry` for the environment `aws`, with the config's OCI endpoint overrides."""
    return lambda location: open_registry(aws, location, endpoints)


def open_origin(aws: AwsEnvironment, origin: str, endpoints: Mapping[str, str]) -> Registry:
    """The registry a `SidecarRun.origin` / `Target.registry` names ("": the own ECR)."""
    env = aws.environment
    if not origin:
        return EcrRegistry(aws.ecr())
    location = locate(ImageRef(origin, "-", None, None), env.account_id, env.region)
    return open_registry(aws, location, endpoints)


def _image_info(detail: dict[str, Any]) -> ImageInfo:
    pushed = detail.get("imagePushedAt")
    return ImageInfo(
        digest=str(detail["imageDigest"]),
        tags=tuple(sorted(detail.get("imageTags") or ())),
        pushed_at=pushed if isinstance(pushed, datetime) else None,
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
