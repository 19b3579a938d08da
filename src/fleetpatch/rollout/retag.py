"""Move a tag to a digest without pulling anything: BatchGetImage, then PutImage.

ECR's documented re-tag ("image-retag" in the ECR user guide): read the image's manifest and
put the very same manifest bytes back with the new tag. The digest is the sha256 of those
bytes, so it is unchanged; the tag simply moves. Putting a tag the image already carries is
refused with ImageAlreadyExistsException: for us that means "already there", not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.errors import UserError
from fleetpatch.rollout.ecs import answer_lost

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

# Every manifest type ECR stores; without them BatchGetImage may convert to schema 1.
MANIFEST_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]


@dataclass(frozen=True)
class Retag:
    repository: str
    tag: str
    digest_before: str | None  # where the tag pointed before (None: it didn't exist)
    digest_after: str
    changed: bool  # False: the tag already pointed there


def _in(repository: str, registry_id: str | None, **members: Any) -> dict[str, Any]:
    """A request for `repository`, with `registryId` when it is another account's."""
    request: dict[str, Any] = {"repositoryName": repository, **members}
    if registry_id:
        request["registryId"] = registry_id
    return request


def get_manifest(
    ecr: ECRClient, repository: str, digest: str, registry_id: str | None = None
) -> dict[str, Any] | None:
    """The image's BatchGetImage answer (manifest and media type), or None if it is absent."""
    answer = ecr.batch_get_image(
        **_in(
            repository,
            registry_id,
            imageIds=[{"imageDigest": digest}],
            acceptedMediaTypes=MANIFEST_TYPES,
        )
    )
    images = answer.get("images", [])
    return dict(images[0]) if images else None


def tag_digest(
    ecr: ECRClient, repository: str, tag: str, registry_id: str | None = None
) -> str | None:
    """Where `tag` points now, or None."""
    try:
        answer = ecr.describe_images(**_in(repository, registry_id, imageIds=[{"imageTag": tag}]))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ImageNotFoundException":
            return None
        raise
    details = answer.get("imageDetails", [])
    return str(details[0]["imageDigest"]) if details else None


def retag(
    ecr: ECRClient, repository: str, digest: str, tag: str, registry_id: str | None = None
) -> Retag:
    """Point `tag` at `digest` in `repository` (no pull, no push of layers); `registry_id`:
    another account's registry (`ecr` is a client for its region). A refused PutImage
    (AccessDeniedException: no permission to write there) is raised as the ClientError."""
    before = tag_digest(ecr, repository, tag, registry_id)
    if before == digest:
        return Retag(repository, tag, before, digest, changed=False)
    image = get_manifest(ecr, repository, digest, registry_id)
    if image is None:
        raise UserError(f"ECR repository {repository} has no image {digest}: nothing to re-tag")
    request = _in(repository, registry_id, imageManifest=image["imageManifest"], imageTag=tag)
    if image.get("imageManifestMediaType"):
        request["imageManifestMediaType"] = image["imageManifestMediaType"]
    try:
        ecr.put_image(**request)
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError) and (
            exc.response.get("Error", {}).get("Code") == "ImageAlreadyExistsException"
        ):
            # Someone moved it there between our read and our write: same end state.
            return Retag(repository, tag, before, digest, changed=False)
        # The answer may be lost after ECR applied it (a 5xx, a broken connection): the tag
        # says whether it did.
        if not answer_lost(exc) or tag_digest(ecr, repository, tag, registry_id) != digest:
            raise
    return Retag(repository, tag, before, digest, changed=True)
