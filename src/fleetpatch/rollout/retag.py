"""Move a tag to a digest without pulling anything: BatchGetImage, then PutImage.

ECR's documented re-tag ("image-retag" in the ECR user guide): read the image's manifest and
put the very same manifest bytes back with the new tag. The digest is the sha256 of those
bytes, so it is unchanged; the tag simply moves. Putting a tag the image already carries is
refused with ImageAlreadyExistsException: for us that means "already there", not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fleetpatch.errors import UserError

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


def get_manifest(ecr: ECRClient, repository: str, digest: str) -> dict[str, Any] | None:
    """The image's BatchGetImage answer (manifest and media type), or None if it is absent."""
    answer = ecr.batch_get_image(
        repositoryName=repository,
        imageIds=[{"imageDigest": digest}],
        acceptedMediaTypes=MANIFEST_TYPES,
    )
    images = answer.get("images", [])
    return dict(images[0]) if images else None


def tag_digest(ecr: ECRClient, repository: str, tag: str) -> str | None:
    """Where `tag` points now, or None."""
    try:
        answer = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ImageNotFoundException":
            return None
        raise
    details = answer.get("imageDetails", [])
    return str(details[0]["imageDigest"]) if details else None


def retag(ecr: ECRClient, repository: str, digest: str, tag: str) -> Retag:
    """Point `tag` at `digest` in `repository` (no pull, no push of layers)."""
    before = tag_digest(ecr, repository, tag)
    if before == digest:
        return Retag(repository, tag, before, digest, changed=False)
    image = get_manifest(ecr, repository, digest)
    if image is None:
        raise UserError(f"ECR repository {repository} has no image {digest}: nothing to re-tag")
    request: dict[str, Any] = {
        "repositoryName": repository,
        "imageManifest": image["imageManifest"],
        "imageTag": tag,
    }
    if image.get("imageManifestMediaType"):
        request["imageManifestMediaType"] = image["imageManifestMediaType"]
    try:
        ecr.put_image(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ImageAlreadyExistsException":
            raise
        # Someone moved it there between our read and our write: same end state.
        return Retag(repository, tag, before, digest, changed=False)
    return Retag(repository, tag, before, digest, changed=True)
