"""The fleet snapshot: which sidecar digest runs where, and what that digest is.

Everything after inventory (status, trace, hold, plan, rollout, compliance) is computed from
a `Snapshot`. It is plain frozen data built by `fleetpatch.inventory.collect`; this module
adds the documented JSON rendering (`Snapshot.to_json`, see docs/json.md). The pure queries
on it live beside it:

- `core.trace.trace(snapshot, query)`: every environment, service and task running an image,
  found by digest (or a prefix), tag or version;
- `core.summary.summarize(snapshot)`: the per environment x sidecar summary `fleetpatch
  status` prints;
- `core.lifecycle_risks.lifecycle_risks(snapshot)`: running digests a repository's lifecycle
  policy would expire; `in_use_digests(environment)`: what `fleetpatch hold` protects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fleetpatch.core.images import ImageInfo, version_label
from fleetpatch.core.times import iso_z

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
        # A query on this model, so imported here: the queries import the model.
        from fleetpatch.core.lifecycle_risks import lifecycle_risks

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
    return None if moment is None else iso_z(moment)


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
