"""Only the sidecar changes: what a forced new deployment would do to a service's other
containers.

A forced new deployment makes ECS resolve *every* container's tag again, so an app container
on `:latest` (or any tag that moved since its tasks started) would ship new application code
under a sidecar patch. Before moving-tag mode deploys a service, each other container's
reference is resolved to the digest it points to now and compared with what its tasks run:

    changes = other_changes(ecr, account, region, services)   # key -> (OtherChange, ...)

One BatchGetImage per repository and 100 tags (it reports a missing tag per image instead of
failing the call, as DescribeImages does). A reference by digest can't change; a reference
fleetpatch can't resolve (another region, a registry other than ECR) counts as a change it
cannot rule out; a tag ECR does not have is no change (ECS could not pull it either). Pin
mode needs none of this: it pins the other containers to the digests
their tasks run now (rollout/pin.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fleetpatch.config import Policy, Sidecar
from fleetpatch.core.images import locate, parse_image, short_digest
from fleetpatch.core.snapshot import OtherContainer, ServiceSnapshot, Snapshot
from fleetpatch.rollout.plan import Mode, Plan, Target, plan

TAGS_PER_BATCH = 100


@dataclass(frozen=True)
class OtherChange:
    """One other container a forced new deployment would change (or might: `after` None)."""

    container: str
    image: str
    before: str | None
    after: str | None
    why: str = ""

    def describe(self) -> str:
        if self.after is None:
            return f"{self.container} ({self.image}): {self.why}"
        return (
            f"{self.container} ({self.image}): {short_digest(self.before)} -> "
            f"{short_digest(self.after)}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "image": self.image,
            "digest_before": self.before,
            "digest_after": self.after,
            "why": self.why,
        }


def other_changes(
    ecr: Any, account: str, region: str, services: Iterable[ServiceSnapshot]
) -> dict[str, tuple[OtherChange, ...]]:
    """`cluster/service` -> its other containers that a forced new deployment would change."""
    services = list(services)
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for service in services:
        for other in service.others:
            place = _ecr_place(other.image, account, region)
            ref = parse_image(other.image)
            if place is not None and not ref.by_digest and ref.tag:
                wanted[place].add(ref.tag)
    resolved = {place: _resolve(ecr, place, tags) for place, tags in wanted.items()}
    found: dict[str, tuple[OtherChange, ...]] = {}
    for service in services:
        changes = [
            change
            for other in service.others
            if (change := _change(other, account, region, resolved)) is not None
        ]
        if changes:
            found[f"{service.cluster}/{service.service}"] = tuple(changes)
    return found


def _change(
    other: OtherContainer,
    account: str,
    region: str,
    resolved: dict[tuple[str, str], dict[str, str]],
) -> OtherChange | None:
    ref = parse_image(other.image)
    if ref.by_digest:
        return None  # pinned: a new deployment resolves it to the same digest
    before = other.digest
    place = _ecr_place(other.image, account, region)
    if place is None:
        why = "not in this region's ECR: fleetpatch can't tell where its tag points now"
        return OtherChange(other.name, other.image, before, None, why)
    after = resolved.get(place, {}).get(ref.tag or "latest")
    if after is None:
        # ECR has no such tag: ECS could not pull it either, so no new code would ship (the
        # deployment would fail on the pull, and say so in ECS's words).
        return None
    if before is not None and after == before:
        return None
    return OtherChange(other.name, other.image, before, after, "its tag moved")


def _ecr_place(image: str, account: str, region: str) -> tuple[str, str] | None:
    """(registry id, repository) for an image in an ECR of the environment's region."""
    ref = parse_image(image)
    where = locate(ref, account, region)
    if where.kind == "oci" or where.region != region or where.account is None:
        return None
    return where.account, ref.repository


def _resolve(ecr: Any, place: tuple[str, str], tags: set[str]) -> dict[str, str]:
    """tag -> digest it points to now, for the tags ECR has."""
    registry_id, repository = place
    ordered = sorted(tags)
    digests: dict[str, str] = {}
    for start in range(0, len(ordered), TAGS_PER_BATCH):
        batch = ordered[start : start + TAGS_PER_BATCH]
        try:
            answer = ecr.batch_get_image(
                registryId=registry_id,
                repositoryName=repository,
                imageIds=[{"imageTag": tag} for tag in batch],
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "RepositoryNotFoundException":
                return {}  # no such repository: nothing ECS could pull, nothing that changes
            raise
        for image in answer.get("images", []):
            image_id = image.get("imageId", {})
            if image_id.get("imageTag") and image_id.get("imageDigest"):
                digests[str(image_id["imageTag"])] = str(image_id["imageDigest"])
    return digests


def plan_only_sidecar(
    ecr: Any,
    snapshot: Snapshot,
    environment: str,
    sidecar: Sidecar,
    target: Target,
    policy: Policy,
    mode: Mode,
    *,
    allow_other_changes: bool = False,
) -> Plan:
    """`plan`, with moving-tag mode's other-container changes read from ECR first."""
    changes: dict[str, tuple[OtherChange, ...]] = {}
    if mode == "tag":
        env = next(e for e in snapshot.environments if e.name == environment)
        changes = other_changes(ecr, env.account, env.region, env.services)
    return plan(
        snapshot,
        environment,
        sidecar,
        target,
        policy,
        mode,
        other_changes=changes,
        allow_other_changes=allow_other_changes,
    )
