"""The join: what ECS says a service runs + what the registries say those digests are
-> a `ServiceSnapshot` with its sidecar runs, other containers and notes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from fleetpatch.config import Environment, Sidecar
from fleetpatch.core.images import ImageRef, canonical, locate, parse_image, short_digest
from fleetpatch.core.snapshot import (
    DigestCount,
    OtherContainer,
    RepositorySnapshot,
    ServiceSnapshot,
    SidecarRun,
)
from fleetpatch.inventory.fleet import ServiceFacts


def match_sidecar(container: str, ref: ImageRef, sidecars: Sequence[Sidecar]) -> Sidecar | None:
    """Which configured sidecar a container is, if any.

    A container is a sidecar when its image comes from the sidecar's repository (in any
    registry: the last path component is compared too, so `public.ecr.aws/x/fluent-bit`
    counts) and its name matches the sidecar's `container` glob; or, when the sidecar names
    its container explicitly (not "*"), by that name alone: a log router pulled from
    another registry under another repository name is still the log router.
    """
    for sidecar in sidecars:
        if _same_repository(ref.repository, sidecar.repository) and sidecar.matches_container(
            container
        ):
            return sidecar
    for sidecar in sidecars:
        if sidecar.container != "*" and sidecar.matches_container(container):
            return sidecar
    return None


def _same_repository(repository: str, configured: str) -> bool:
    if repository == configured:
        return True
    return repository.rsplit("/", 1)[-1] == configured.rsplit("/", 1)[-1]


def build_service(
    facts: ServiceFacts,
    env: Environment,
    sidecars: Sequence[Sidecar],
    repositories: dict[tuple[str, str], RepositorySnapshot],
) -> ServiceSnapshot:
    revision = {run.name: run.digest for run in facts.revision_images if run.digest}
    runs = []
    others = []
    for container, image in facts.containers:
        ref = parse_image(image)
        sidecar = match_sidecar(container, ref, sidecars)
        if sidecar is not None:
            runs.append(
                _sidecar_run(facts, env, sidecar, container, image, ref, repositories, revision)
            )
        else:
            others.append(_other_container(facts, container, image, revision))
    return ServiceSnapshot(
        cluster=facts.cluster,
        service=facts.service,
        task_definition=facts.task_definition,
        desired_count=facts.desired_count,
        running_count=facts.running_count,
        pending_count=facts.pending_count,
        deployment=facts.deployment,
        deployments=facts.deployments,
        sidecars=tuple(runs),
        revision_arn=facts.revision_arn,
        revision_digests=tuple(sorted(revision.items())),
        notes=_service_notes(facts),
        controller=facts.controller,
        status=facts.status,
        scheduling=facts.scheduling,
        resource_management=facts.resource_management,
        strategy_bake_minutes=facts.strategy_bake_minutes,
        others=tuple(others),
    )


def _other_container(
    facts: ServiceFacts, container: str, image: str, revision: dict[str, str]
) -> OtherContainer:
    running = {
        run.digest
        for task in facts.tasks
        if task.last_status == "RUNNING"
        for run in task.containers
        if run.name == container and run.digest
    }
    return OtherContainer(container, image, tuple(sorted(running)), revision.get(container))


def _service_notes(facts: ServiceFacts) -> tuple[str, ...]:
    if not facts.tasks and facts.desired_count == 0:
        return ("desired count 0: no tasks run",)
    if not facts.tasks:
        return (f"no running tasks (desired count {facts.desired_count})",)
    if facts.deployments > 1:
        return (f"mid-deployment: {facts.deployments} deployments active",)
    return ()


def _sidecar_run(
    facts: ServiceFacts,
    env: Environment,
    sidecar: Sidecar,
    container: str,
    image: str,
    ref: ImageRef,
    repositories: dict[tuple[str, str], RepositorySnapshot],
    revision: dict[str, str],
) -> SidecarRun:
    location = locate(ref, env.account_id, env.region)
    name = canonical(ref).repository
    repository = repositories.get((location.origin, name))
    reason = "not read" if repository is None else repository.error
    if repository is not None and repository.error is not None:
        repository = None
    task_ids: dict[str, list[str]] = defaultdict(list)
    starting = 0
    for task in facts.tasks:
        for run in task.containers:
            if run.name != container:
                continue
            if run.digest:
                task_ids[run.digest].append(task.task_id)
            else:
                starting += 1
    running = tuple(_digest_count(d, ids, repository) for d, ids in _by_tasks(task_ids))
    moving_tag = ref.tag if not ref.by_digest and ref.tag else sidecar.tag
    tagged = repository.tagged(moving_tag) if repository is not None else None
    tag_digest = tagged.digest if tagged is not None else None
    revision_digest = revision.get(container)
    main = _main_digest(running, revision_digest)
    digests = {count.digest for count in running}
    drift = len(digests) > 1 or (tag_digest is not None and bool(digests - {tag_digest}))
    return SidecarRun(
        name=sidecar.name,
        container=container,
        image=image,
        reference="digest" if ref.by_digest else "tag",
        repository=name,
        registry=ref.registry,
        running=running,
        tag_digest=tag_digest,
        drift=drift,
        digest=main.digest if main else None,
        tags=main.tags if main else (),
        pushed_at=main.pushed_at if main else None,
        resolvable=reason is None,
        reason=reason,
        revision_digest=revision_digest,
        starting=starting,
        notes=_run_notes(facts, running, repository, moving_tag, tag_digest, revision_digest),
        origin=location.origin,
    )


def _by_tasks(task_ids: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """Digests with the most tasks first (ties by digest, for a stable order)."""
    return sorted(task_ids.items(), key=lambda item: (-len(item[1]), item[0]))


def _digest_count(
    digest: str, task_ids: list[str], repository: RepositorySnapshot | None
) -> DigestCount:
    if repository is None:
        return DigestCount(digest, len(task_ids), tuple(sorted(task_ids)))
    image = repository.image(digest)
    return DigestCount(
        digest=digest,
        tasks=len(task_ids),
        task_ids=tuple(sorted(task_ids)),
        tags=image.tags if image else (),
        pushed_at=image.pushed_at if image else None,
        in_registry=image is not None,
    )


def _main_digest(
    running: tuple[DigestCount, ...], revision_digest: str | None
) -> DigestCount | None:
    for count in running:
        if count.digest == revision_digest:
            return count
    return running[0] if running else None


def _run_notes(
    facts: ServiceFacts,
    running: tuple[DigestCount, ...],
    repository: RepositorySnapshot | None,
    moving_tag: str,
    tag_digest: str | None,
    revision_digest: str | None,
) -> tuple[str, ...]:
    notes = []
    where = f"{repository.registry}/" if repository is not None and repository.registry else ""
    for count in running:
        if count.in_registry is False:
            registry = repository.registry if repository is not None else ""
            gone = f"no longer in {registry}" if registry else "no longer in ECR"
            why = "" if registry else " (expired by a lifecycle policy?)"
            notes.append(
                f"{short_digest(count.digest)} is {gone}{why}: the service's next task "
                "will fail with CannotPullContainerError"
            )
    if repository is not None and tag_digest is None:
        kind = "repository" if where else "ECR repository"
        notes.append(f"tag {moving_tag} is not in {kind} {where}{repository.name}")
    digests = {count.digest for count in running}
    settled = facts.deployment == "COMPLETED" and facts.deployments == 1
    if settled and revision_digest is not None and digests and digests != {revision_digest}:
        notes.append(
            f"tasks run {', '.join(short_digest(d) for d in sorted(digests))} but the current "
            f"service revision resolved {short_digest(revision_digest)}"
        )
    return tuple(notes)
