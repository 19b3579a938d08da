"""The digests the fleet still needs (`in_use_digests`, what `fleetpatch hold` protects), and
those a repository's lifecycle policy would expire anyway (`lifecycle_risks`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetpatch.core.images import version_label
from fleetpatch.core.lifecycle import would_expire
from fleetpatch.core.snapshot import EnvironmentSnapshot, RepositorySnapshot, Snapshot


@dataclass(frozen=True)
class LifecycleRisk:
    """A digest some service needs that its repository's lifecycle policy would expire."""

    environment: str
    repository: str
    digest: str
    label: str
    rule_priority: int
    rule: str
    action: str
    services: tuple[str, ...]  # cluster/service

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "repository": self.repository,
            "digest": self.digest,
            "label": self.label,
            "rule_priority": self.rule_priority,
            "rule": self.rule,
            "action": self.action,
            "services": list(self.services),
        }

    @property
    def message(self) -> str:
        where = ", ".join(self.services[:3]) + (" …" if len(self.services) > 3 else "")
        return (
            f"{self.environment}: {self.repository}@{self.label} is still needed by {where}, "
            f"but lifecycle rule {self.rule_priority} ({self.rule}) would {self.action} it; "
            "its next task would fail with CannotPullContainerError. "
            f"Run `fleetpatch hold --env {self.environment}` or change the policy"
        )


def in_use_digests(env: EnvironmentSnapshot) -> dict[str, dict[str, list[str]]]:
    """repository -> digest -> services ("cluster/service") needing it, own ECR only.

    A digest is needed when tasks run it or the service's current revision resolved it
    (the next scale-out or replacement task pulls that one).
    """
    needed: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for service in env.services:
        where = f"{service.cluster}/{service.service}"
        for run in service.sidecars:
            # Only the environment's own ECR: fleetpatch holds images where it may tag.
            if not run.resolvable or run.origin:
                continue
            digests = [count.digest for count in run.running]
            if run.revision_digest is not None:
                digests.append(run.revision_digest)
            for digest in dict.fromkeys(digests):
                needed[run.repository][digest].append(where)
    return {repo: dict(digests) for repo, digests in needed.items()}


def lifecycle_risks(snapshot: Snapshot, now: datetime | None = None) -> list[LifecycleRisk]:
    """Needed digests that a repository's lifecycle policy would expire at `now`
    (default: when the snapshot was taken)."""
    moment = now or snapshot.taken_at
    risks: list[LifecycleRisk] = []
    for env in snapshot.environments:
        for repository_name, digests in sorted(in_use_digests(env).items()):
            repository = env.repository(repository_name)
            if repository is None or not repository.lifecycle_policy:
                continue
            risks.extend(_repository_risks(env.name, repository, digests, moment))
    return risks


def _repository_risks(
    environment: str,
    repository: RepositorySnapshot,
    needed: Mapping[str, Iterable[str]],
    now: datetime,
) -> list[LifecycleRisk]:
    assert repository.lifecycle_policy is not None
    risks = []
    for expiry in would_expire(repository.lifecycle_policy, repository.images, now):
        if expiry.digest not in needed:
            continue
        image = repository.image(expiry.digest)
        risks.append(
            LifecycleRisk(
                environment=environment,
                repository=repository.name,
                digest=expiry.digest,
                label=version_label(image.tags if image else (), expiry.digest),
                rule_priority=expiry.rule_priority,
                rule=expiry.rule,
                action=expiry.action,
                services=tuple(sorted(needed[expiry.digest])),
            )
        )
    return risks
