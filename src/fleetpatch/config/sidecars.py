"""`[[sidecars]]`: the shared images to keep patched."""

from __future__ import annotations

import fnmatch
import re
from typing import Annotated

from pydantic import Field, Strict, model_validator

from fleetpatch.config.values import ConfigValueError, Expect, Glob, Name, StrictModel
from fleetpatch.core.images import ImageRef, canonical, parse_image, valid_registry_host

# ECR: "Repository names can contain lowercase letters, numbers, hyphens, underscores,
# periods and forward slashes"; tags up to 128 characters.
_REPOSITORY_RE = r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$"
_TAG_RE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


class Sidecar(StrictModel):
    """A shared image that must run patched everywhere, e.g. the fluent-bit log router.

    `repository` names it in each environment's own ECR. `image` names it anywhere else:
    another account's ECR, ECR Public or any OCI registry, as `host/repository` without a tag
    (`public.ecr.aws/aws-observability/aws-for-fluent-bit`, `fluent/fluent-bit`); then
    `repository` is taken from it.
    """

    name: Name
    repository: Annotated[
        str,
        Strict(),
        Field(pattern=_REPOSITORY_RE),
        Expect("an ECR repository name like 'fluent-bit' or 'platform/fluent-bit'"),
    ]
    image: (
        Annotated[
            str,
            Strict(),
            Expect("an image without a tag, like 'public.ecr.aws/aws-observability/fluent-bit'"),
        ]
        | None
    ) = None
    tag: Annotated[
        str, Strict(), Field(pattern=_TAG_RE), Expect("an image tag like 'latest' or 'stable'")
    ] = "latest"
    container: Glob = "*"

    @model_validator(mode="before")
    @classmethod
    def _repository_from_image(cls, data: object) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("image"), str):
            return data
        ref = _sidecar_image(data["image"])
        given = data.get("repository")
        if given is not None and given != ref.repository:
            raise ConfigValueError(
                ["repository"],
                f"'{given}' contradicts image (repository '{ref.repository}'): drop one of them",
            )
        return {**data, "repository": ref.repository}

    @property
    def registry(self) -> str | None:
        """The registry host `image` names (docker.io for Docker Hub); None: each
        environment's own ECR."""
        return _sidecar_image(self.image).registry if self.image is not None else None

    def matches_container(self, container_name: str) -> bool:
        return fnmatch.fnmatchcase(container_name, self.container)


def _sidecar_image(image: str) -> ImageRef:
    """`host/repository` of a sidecar's `image` key, checked; ConfigValueError says why not."""
    if "@" in image or ":" in image.rsplit("/", 1)[-1]:
        raise ConfigValueError(
            ["image"], f"'{image}' has a tag or digest: write it without, and set 'tag'"
        )
    ref = canonical(parse_image(image))
    if not valid_registry_host(ref.registry):
        raise ConfigValueError(["image"], f"'{ref.registry}' is not a registry host name")
    if re.fullmatch(_REPOSITORY_RE, ref.repository) is None:
        raise ConfigValueError(
            ["image"], f"'{ref.repository}' is not a repository name (a-z, 0-9, '/', '.', '-', '_')"
        )
    return ref
