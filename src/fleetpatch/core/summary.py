"""`fleetpatch status`: one row per environment x sidecar, the versions it runs and its drift."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from fleetpatch.core.images import ImageInfo, version_label
from fleetpatch.core.snapshot import DigestCount, EnvironmentSnapshot, SidecarRun, Snapshot


@dataclass(frozen=True)
class VersionCount:
    """How many services (and tasks) of one environment run one sidecar digest."""

    label: str
    digest: str
    services: int
    tasks: int
    pushed_at: datetime | None


@dataclass(frozen=True)
class StatusRow:
    """`fleetpatch status`: one environment x sidecar."""

    environment: str
    sidecar: str
    services: int
    versions: tuple[VersionCount, ...]  # oldest push first
    drifting: int
    not_running: int
    unresolvable: int
    tag_label: str | None  # what the moving tag points to now
    error: str | None = None

    @property
    def oldest(self) -> VersionCount | None:
        return self.versions[0] if self.versions else None


def summarize(snapshot: Snapshot) -> list[StatusRow]:
    """One row per environment x sidecar name (sidecars that run nowhere included)."""
    rows: list[StatusRow] = []
    for env in snapshot.environments:
        if env.error is not None:
            rows.append(StatusRow(env.name, "-", 0, (), 0, 0, 0, None, error=env.error))
            continue
        by_sidecar: dict[str, list[SidecarRun]] = {name: [] for name in snapshot.sidecar_names}
        for service in env.services:
            for run in service.sidecars:
                by_sidecar.setdefault(run.name, []).append(run)
        for name, runs in by_sidecar.items():
            rows.append(_status_row(env, name, runs))
    return rows


def _status_row(env: EnvironmentSnapshot, name: str, runs: list[SidecarRun]) -> StatusRow:
    versions: dict[str, list[DigestCount]] = defaultdict(list)
    for run in runs:
        for count in run.running:
            versions[count.digest].append(count)
    counts = [
        VersionCount(
            label=group[0].label,
            digest=digest,
            services=len(group),
            tasks=sum(c.tasks for c in group),
            pushed_at=group[0].pushed_at,
        )
        for digest, group in versions.items()
    ]
    counts.sort(key=lambda v: (v.pushed_at is not None, v.pushed_at or datetime.min, v.label))
    tag_digests = {run.tag_digest for run in runs if run.tag_digest}
    tag_label = None
    if len(tag_digests) == 1:
        tag_digest = next(iter(tag_digests))
        image = _find_image(env, tag_digest)
        tag_label = version_label(image.tags if image else (), tag_digest)
    return StatusRow(
        environment=env.name,
        sidecar=name,
        services=len(runs),
        versions=tuple(counts),
        drifting=sum(1 for run in runs if run.drift),
        not_running=sum(1 for run in runs if not run.running),
        unresolvable=sum(1 for run in runs if not run.resolvable),
        tag_label=tag_label,
    )


def _find_image(env: EnvironmentSnapshot, digest: str) -> ImageInfo | None:
    for repository in env.repositories:
        image = repository.image(digest)
        if image is not None:
            return image
    return None
