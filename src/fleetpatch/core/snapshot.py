"""The fleet snapshot: which sidecar digest runs where, and what that digest is.

Everything after inventory (status, trace, hold, plan, rollout, compliance) is computed from
a `Snapshot`. It is plain frozen data built by `fleetpatch.inventory.collect`; this module
adds the documented JSON rendering (`Snapshot.to_json`, see docs/json.md) and pure queries:

- `trace(snapshot, query)`: every environment, service and task running an image, found by
  digest (or a prefix), tag or version;
- `summarize(snapshot)`: the per environment x sidecar summary `fleetpatch status` prints;
- `lifecycle_risks(snapshot)`: running digests a repository's lifecycle policy would expire;
- `in_use_digests(environment)`: what `fleetpatch hold` protects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fleetpatch.core.images import ImageInfo, digest_matches, version_label
from fleetpatch.core.lifecycle import would_expire

Reference = Literal["tag", "digest"]


@dataclass(frozen=True)
class DigestCount:
    """How many of a service's tasks run one digest in one sidecar container.

    `tags` and `pushed_at` describe the digest in ECR; `in_registry` is False when ECR no
    longer has it (deleted, e.g. by a lifecycle policy) and None when not known (the image
    is not in the environment's own ECR).
    """

    digest: str
    tasks: int
    task_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    pushed_at: datetime | None = None
    in_registry: bool | None = None

    @property
    def label(self) -> str:
        return version_label(self.tags, self.digest)


@dataclass(frozen=True)
class SidecarRun:
    """One sidecar container of one service, and what its tasks run.

    `image` is the reference as written in the task definition. `tag_digest` is where the
    reference's tag points in ECR now (for a reference by digest: where the sidecar's
    configured moving tag points, the image a rollout would move to). `drift` is True when
    a running digest differs from `tag_digest`, or the tasks disagree (mid-deployment).
    `digest` is the service's main running digest: the one its current revision resolved
    if tasks run it, else the one most tasks run; `tags` and `pushed_at` describe it.
    """

    name: str
    container: str
    image: str
    reference: Reference
    repository: str
    registry: str
    running: tuple[DigestCount, ...]
    tag_digest: str | None
    drift: bool
    digest: str | None
    tags: tuple[str, ...]
    pushed_at: datetime | None
    resolvable: bool
    reason: str | None = None
    revision_digest: str | None = None
    # Tasks whose container has no digest yet (still starting).
    starting: int = 0
    notes: tuple[str, ...] = ()
    # Where its tags were read: "" for the environment's own ECR, else the registry host
    # (another account's ECR, public.ecr.aws, docker.io ...). See core.images.locate.
    origin: str = ""

    @property
    def tasks(self) -> int:
        return sum(count.tasks for count in self.running)

    @property
    def label(self) -> str:
        """The running version as people name it (version tag, else short digest)."""
        if self.digest is None:
            return "-"
        return version_label(self.tags, self.digest)


@dataclass(frozen=True)
class OtherContainer:
    """A container of the service that is not a sidecar (the app): what a sidecar patch must
    leave as it is. `running` are the digests its tasks run; `revision_digest` what the
    service's current revision resolved it to."""

    name: str
    image: str
    running: tuple[str, ...] = ()
    revision_digest: str | None = None

    @property
    def digest(self) -> str | None:
        """The one digest it runs now, if its tasks agree (else its revision's)."""
        if len(self.running) == 1:
            return self.running[0]
        return self.revision_digest if not self.running else None


@dataclass(frozen=True)
class ServiceSnapshot:
    """One ECS service: its task definition, deployment state and sidecars."""

    cluster: str
    service: str
    task_definition: str  # family:revision
    desired_count: int
    running_count: int
    pending_count: int
    # rolloutState of the PRIMARY deployment (IN_PROGRESS | COMPLETED | FAILED), if any.
    deployment: str | None
    deployments: int
    sidecars: tuple[SidecarRun, ...]
    # The current service revision (deployment target), for services deployed since the
    # Oct-2024 deployment APIs: its ARN and container -> resolved digest.
    revision_arn: str | None = None
    revision_digests: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    # deploymentController.type, status, schedulingStrategy, resourceManagementType.
    controller: str = "ECS"
    status: str = "ACTIVE"
    scheduling: str = "REPLICA"
    resource_management: str = "CUSTOMER"
    # Minutes its deployment strategy bakes at least (bake, linear steps, canary bake).
    strategy_bake_minutes: float = 0.0
    # Its other containers (the app): only the sidecar may change (rollout/others.py).
    others: tuple[OtherContainer, ...] = ()

    @property
    def has_sidecar(self) -> bool:
        return bool(self.sidecars)


@dataclass(frozen=True)
class RepositorySnapshot:
    """A repository as inventory read it: of the environment's own ECR when `registry` is ""
    (then `images` is the whole repository), else of the registry host `registry` (another
    account's ECR: the whole repository too; an OCI registry: only the tags and digests the
    fleet uses, since the distribution API lists no digests)."""

    name: str
    images: tuple[ImageInfo, ...] = ()
    lifecycle_policy: Mapping[str, Any] | None = None
    error: str | None = None
    registry: str = ""

    def image(self, digest: str) -> ImageInfo | None:
        for image in self.images:
            if image.digest == digest:
                return image
        return None

    def tagged(self, tag: str) -> ImageInfo | None:
        for image in self.images:
            if tag in image.tags:
                return image
        return None


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """One configured environment; `error` (one line) when it could not be read."""

    name: str
    account: str
    region: str
    services: tuple[ServiceSnapshot, ...] = ()
    repositories: tuple[RepositorySnapshot, ...] = ()
    error: str | None = None

    def repository(self, name: str, registry: str = "") -> RepositorySnapshot | None:
        """The repository `name` of `registry` ("": the environment's own ECR)."""
        for repository in self.repositories:
            if repository.name == name and repository.registry == registry:
                return repository
        return None


@dataclass(frozen=True)
class Snapshot:
    """The whole fleet at `taken_at`; `api_calls` is how many AWS calls reading it took."""

    environments: tuple[EnvironmentSnapshot, ...]
    api_calls: int
    taken_at: datetime
    sidecar_names: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[EnvironmentSnapshot, ...]:
        return tuple(env for env in self.environments if env.error is not None)

    def runs(self) -> Iterator[tuple[EnvironmentSnapshot, ServiceSnapshot, SidecarRun]]:
        """Every (environment, service, sidecar) triple, in order."""
        for env in self.environments:
            for service in env.services:
                for run in service.sidecars:
                    yield env, service, run

    def to_json(self, *, sidecar: str | None = None, all_services: bool = False) -> dict[str, Any]:
        """The documented JSON contract (docs/json.md).

        `sidecar` keeps only that sidecar's runs; services without any (kept) sidecar are left
        out unless `all_services`.
        """
        return {
            "taken_at": _iso(self.taken_at),
            "api_calls": self.api_calls,
            "environments": [
                _environment_json(env, sidecar, all_services) for env in self.environments
            ],
            "lifecycle_risks": [risk.to_json() for risk in lifecycle_risks(self)],
        }


# --- JSON -----------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _environment_json(
    env: EnvironmentSnapshot, sidecar: str | None, all_services: bool
) -> dict[str, Any]:
    services = []
    for service in env.services:
        runs = [run for run in service.sidecars if sidecar is None or run.name == sidecar]
        if runs or all_services:
            services.append(_service_json(service, runs))
    return {
        "name": env.name,
        "account": env.account,
        "region": env.region,
        "error": env.error,
        "services": services,
    }


def _service_json(service: ServiceSnapshot, runs: list[SidecarRun]) -> dict[str, Any]:
    return {
        "cluster": service.cluster,
        "service": service.service,
        "task_definition": service.task_definition,
        "desired_count": service.desired_count,
        "running_count": service.running_count,
        "pending_count": service.pending_count,
        "deployment": service.deployment,
        "deployments": service.deployments,
        "revision": service.revision_arn,
        "revision_digests": dict(service.revision_digests),
        "notes": list(service.notes),
        "sidecars": [_run_json(run) for run in runs],
    }


def _run_json(run: SidecarRun) -> dict[str, Any]:
    return {
        "name": run.name,
        "container": run.container,
        "image": run.image,
        "reference": run.reference,
        "running": [
            {
                "digest": count.digest,
                "tasks": count.tasks,
                "task_ids": list(count.task_ids),
                "tags": list(count.tags),
                "pushed_at": _iso(count.pushed_at),
                "in_registry": count.in_registry,
            }
            for count in run.running
        ],
        "tag_digest": run.tag_digest,
        "drift": run.drift,
        "tags": list(run.tags),
        "pushed_at": _iso(run.pushed_at),
        "digest": run.digest,
        "revision_digest": run.revision_digest,
        "starting": run.starting,
        "repository": run.repository,
        "registry": run.registry,
        "origin": run.origin,
        "resolvable": run.resolvable,
        "reason": run.reason,
        "notes": list(run.notes),
    }


# --- trace ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceHit:
    """Tasks of one service running an image that matched a trace query."""

    environment: str
    cluster: str
    service: str
    sidecar: str
    container: str
    digest: str
    tags: tuple[str, ...]
    task_ids: tuple[str, ...]
    tasks: int


def trace(snapshot: Snapshot, query: str) -> list[TraceHit]:
    """Every service and task running the image named by `query`.

    `query` is a digest (full, `sha256:` + prefix, or a bare hex prefix of 6+), a tag carried
    by the digest (`3.0.3-4b9c0d1`, `latest`), or a version (`3.0.3` matches tags that start
    with `3.0.3-` or `3.0.3.`). A moving tag like `latest` matches what ECR's `latest` points
    to now, not what tasks resolved it to long ago.
    """
    hits: list[TraceHit] = []
    for env, service, run in snapshot.runs():
        for count in run.running:
            if _matches(query, count):
                hits.append(
                    TraceHit(
                        environment=env.name,
                        cluster=service.cluster,
                        service=service.service,
                        sidecar=run.name,
                        container=run.container,
                        digest=count.digest,
                        tags=count.tags,
                        task_ids=count.task_ids,
                        tasks=count.tasks,
                    )
                )
    return hits


def _matches(query: str, count: DigestCount) -> bool:
    if digest_matches(query, count.digest):
        return True
    if query in count.tags:
        return True
    return any(tag.startswith((f"{query}-", f"{query}.", f"{query}+")) for tag in count.tags)


# --- status ---------------------------------------------------------------------------------


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


# --- lifecycle and hold -----------------------------------------------------------------------


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
