"""The target of a rollout: the digest to move to, chosen by tag, digest or version.

Pure: an `EnvironmentSnapshot` (its repositories as read) + the sidecar's config -> a
`Target`, or a UserError saying why none (or several) match.

    target = resolve_target(env_snapshot, sidecar)                  # what `latest` points to
    target = resolve_target(env_snapshot, sidecar, version="3.0.4") # 3.0.4-a1b2c3d
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetpatch.config import Sidecar
from fleetpatch.core.images import ImageInfo, configured_location, digest_matches, version_label
from fleetpatch.core.snapshot import EnvironmentSnapshot
from fleetpatch.errors import UserError


@dataclass(frozen=True)
class Target:
    """The digest a rollout moves to, and how it was chosen (for people and the journal)."""

    digest: str
    repository: str
    # What chose it: "tag latest", "digest", "version 3.0.4".
    chosen_by: str
    label: str
    # The moving tag that pointed to the digest when it was chosen: moving-tag mode checks
    # that it still does before each wave.
    tag: str | None = None
    # The registry `repository` is in: "" for the environment's own ECR, else its host
    # (SidecarRun.origin).
    registry: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "repository": self.repository,
            "registry": self.registry,
            "chosen_by": self.chosen_by,
            "label": self.label,
            "tag": self.tag,
        }


def resolve_target(
    env: EnvironmentSnapshot,
    sidecar: Sidecar,
    *,
    digest: str | None = None,
    version: str | None = None,
) -> Target:
    """The digest to roll out: `--digest` (full or a prefix), `--version` (an exact tag, or
    a tag starting with `V-`/`V.`/`V+`), else where the sidecar's moving tag points now."""
    if digest and version:
        raise UserError("--digest and --version exclude each other: pick one")
    origin = sidecar_origin(env, sidecar)
    name = sidecar.repository
    where = f"repository {origin}/{name}" if origin else f"ECR repository {name}"
    repository = env.repository(sidecar.repository, origin)
    if repository is None or repository.error is not None:
        why = repository.error if repository is not None else "not read"
        raise UserError(f"{env.name}: {where}: {why}")
    moving = repository.tagged(sidecar.tag)
    if digest:
        image = _one(
            [i for i in repository.images if digest_matches(digest, i.digest)],
            f"digest {digest}",
            env.name,
            where,
        )
        return _target(image, sidecar, "digest", moving, origin)
    if version:
        exact = [i for i in repository.images if version in i.tags]
        prefixed = [
            i
            for i in repository.images
            if any(t.startswith((f"{version}-", f"{version}.", f"{version}+")) for t in i.tags)
        ]
        image = _one(exact or prefixed, f"version {version}", env.name, where)
        return _target(image, sidecar, f"version {version}", moving, origin)
    if moving is None:
        raise UserError(
            f"{env.name}: tag {sidecar.tag} is not in {where}: "
            "push it, or name the target with --digest or --version"
        )
    return _target(moving, sidecar, f"tag {sidecar.tag}", moving, origin)


def sidecar_origin(env: EnvironmentSnapshot, sidecar: Sidecar) -> str:
    """The registry the sidecar's configured image is read from in `env` ("" for its own
    ECR; the host of the sidecar's `image` otherwise), as SidecarRun.origin names it."""
    return configured_location(sidecar.image, env.account, env.region).origin


def _one(images: list[ImageInfo], what: str, env: str, where: str) -> ImageInfo:
    if not images:
        raise UserError(f"{env}: no image with {what} in {where}")
    distinct = {i.digest: i for i in images}
    if len(distinct) > 1:
        labels = ", ".join(sorted(version_label(i.tags, i.digest) for i in distinct.values()))
        raise UserError(f"{env}: {what} matches several images ({labels}): be more precise")
    return images[0]


def _target(
    image: ImageInfo, sidecar: Sidecar, chosen_by: str, moving: ImageInfo | None, origin: str
) -> Target:
    on_tag = moving is not None and moving.digest == image.digest
    return Target(
        digest=image.digest,
        repository=sidecar.repository,
        chosen_by=chosen_by,
        label=image.label,
        tag=sidecar.tag if on_tag else None,
        registry=origin,
    )
