"""Only the sidecar changes: what a forced new deployment would do to a service's other
containers.

A forced new deployment makes ECS resolve *every* container's tag again, so an app container
on `:latest` (or any tag that moved since its tasks started) would ship new application code
under a sidecar patch. Before moving-tag mode deploys a service, each other container's
reference is resolved to the digest it points to now and compared with what its tasks run:

    changes = other_changes(registries, account, region, services)  # key -> (OtherChange, ...)

Each reference is read where it lives (core.images.locate, inventory.registry): the
environment's own ECR or another account's / region's (one BatchGetImage per repository and
100 tags: it reports a missing tag per image instead of failing the call, as DescribeImages
does), ECR Public, Docker Hub or any OCI registry (one manifest request per tag). A reference
by digest can't change; a registry that can't be read (access denied, unreachable) counts as
a change fleetpatch cannot rule out; a tag the registry does not have is no change (ECS could
not pull it either). Pin mode needs none of this: it pins the other containers to the
digests their tasks run now (rollout/pin.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fleetpatch.config import Policy, Sidecar
from fleetpatch.core.images import RegistryLocation, canonical, locate, parse_image, short_digest
from fleetpatch.core.snapshot import OtherContainer, ServiceSnapshot, Snapshot
from fleetpatch.inventory.registry import RegistryError, RegistryOpener
from fleetpatch.rollout.plan import Mode, Plan, plan
from fleetpatch.rollout.target import Target


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
    registries: RegistryOpener, account: str, region: str, services: Iterable[ServiceSnapshot]
) -> dict[str, tuple[OtherChange, ...]]:
    """`cluster/service` -> its other containers that a forced new deployment would change.
    `registries` opens the registry a `RegistryLocation` names (inventory.registry)."""
    services = list(services)
    wanted: dict[tuple[RegistryLocation, str], set[str]] = defaultdict(set)
    for service in services:
        for other in service.others:
            ref = canonical(parse_image(other.image))
            if not ref.by_digest:
                wanted[(locate(ref, account, region), ref.repository)].add(ref.tag or "latest")
    resolved = {
        place: _resolve(registries, place, tags) for place, tags in sorted(wanted.items(), key=_by)
    }
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


# Where a repository's tags point now, or why that can't be read.
_Resolved = dict[str, str] | str


def _by(item: tuple[tuple[RegistryLocation, str], set[str]]) -> tuple[str, str]:
    (location, repository), _ = item
    return location.host, repository


def _change(
    other: OtherContainer,
    account: str,
    region: str,
    resolved: dict[tuple[RegistryLocation, str], _Resolved],
) -> OtherChange | None:
    ref = canonical(parse_image(other.image))
    if ref.by_digest:
        return None  # pinned: a new deployment resolves it to the same digest
    before = other.digest
    answer = resolved.get((locate(ref, account, region), ref.repository), {})
    if isinstance(answer, str):
        return OtherChange(other.name, other.image, before, None, answer)
    after = answer.get(ref.tag or "latest")
    if after is None:
        # The registry has no such tag: ECS could not pull it either, so no new code would
        # ship (the deployment would fail on the pull, and say so in ECS's words).
        return None
    if before is not None and after == before:
        return None
    return OtherChange(other.name, other.image, before, after, "its tag moved")


def _resolve(
    registries: RegistryOpener, place: tuple[RegistryLocation, str], tags: set[str]
) -> _Resolved:
    """tag -> digest it points to now (for the tags the registry has), or, when the registry
    can't be read, why: fleetpatch can't tell where those tags point."""
    location, repository = place
    try:
        return registries(location).tag_digests(repository, sorted(tags))
    except RegistryError as exc:
        return f"fleetpatch can't tell where its tag points now ({exc})"


def plan_only_sidecar(
    registries: RegistryOpener,
    snapshot: Snapshot,
    environment: str,
    sidecar: Sidecar,
    target: Target,
    policy: Policy,
    mode: Mode,
    *,
    allow_other_changes: bool = False,
    pin_other_changes: bool = False,
) -> Plan:
    """`plan`, with moving-tag mode's other-container changes read from their registries
    first."""
    changes: dict[str, tuple[OtherChange, ...]] = {}
    if mode == "tag":
        env = next(e for e in snapshot.environments if e.name == environment)
        changes = other_changes(registries, env.account, env.region, env.services)
    return plan(
        snapshot,
        environment,
        sidecar,
        target,
        policy,
        mode,
        other_changes=changes,
        allow_other_changes=allow_other_changes,
        pin_other_changes=pin_other_changes,
    )
