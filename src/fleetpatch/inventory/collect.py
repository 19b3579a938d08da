"""Build the fleet `Snapshot`: read every environment in parallel and join ECS with ECR.

    snapshot = collect(config)                 # every environment
    snapshot = collect(config, ["dev"])        # only dev
    snapshot = collect(config, progress=show)  # show(CollectProgress) as it goes

An environment that cannot be read (credentials, AccessDenied, endpoint down) becomes an
`EnvironmentSnapshot` whose `error` is one line saying what to do; the others are still read.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.aws.errors import explain
from fleetpatch.aws.session import AwsEnvironment, AwsSessions
from fleetpatch.config import Config, Environment, Sidecar
from fleetpatch.core.images import (
    ImageRef,
    RegistryLocation,
    canonical,
    locate,
    parse_image,
    short_digest,
)
from fleetpatch.core.snapshot import (
    DigestCount,
    EnvironmentSnapshot,
    OtherContainer,
    RepositorySnapshot,
    ServiceSnapshot,
    SidecarRun,
    Snapshot,
)
from fleetpatch.inventory.fleet import EcsFleetSource, FleetSource, ServiceFacts
from fleetpatch.inventory.registry import EcrRegistry, Registry, open_registry

# Opens the registry a location names (another account's ECR, an OCI registry).
RegistryOpener = Callable[[RegistryLocation], Registry]

# Concurrent AWS calls per environment. botocore clients are thread-safe and the session
# layer's connection pool holds 50.
DEFAULT_WORKERS = 16


class CallCounter:
    """Counts AWS API calls (after retries: one per operation) through botocore's
    `after-call` event on the clients it is attached to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self._attached: list[tuple[Any, str]] = []

    def attach(self, client: Any) -> None:
        unique_id = f"fleetpatch-counter-{uuid.uuid4()}"
        client.meta.events.register("after-call", self._count, unique_id=unique_id)
        self._attached.append((client, unique_id))

    def detach_all(self) -> None:
        for client, unique_id in self._attached:
            client.meta.events.unregister("after-call", unique_id=unique_id)
        self._attached.clear()

    def _count(self, **_: Any) -> None:
        with self._lock:
            self.total += 1


@dataclass(frozen=True)
class CollectProgress:
    """How far `collect` has got, for a display: a big fleet takes seconds to read."""

    environments_done: int
    environments_total: int
    services_read: int


ProgressCallback = Callable[[CollectProgress], None]


class _ProgressTracker:
    """Counts what the worker threads have read and reports it to a `ProgressCallback`.

    The callback is called under the lock, so it sees the counts in order and is never
    called twice at once, although the environments and clusters are read in parallel.
    """

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self._lock = threading.Lock()
        self._callback = callback
        self._total = total
        self._environments = 0
        self._services = 0
        self._report()

    def services_read(self, count: int) -> None:
        with self._lock:
            self._services += count
            self._report()

    def environment_done(self) -> None:
        with self._lock:
            self._environments += 1
            self._report()

    def _report(self) -> None:
        if self._callback is not None:
            self._callback(CollectProgress(self._environments, self._total, self._services))


def collect(
    config: Config,
    environments: Iterable[str] | None = None,
    *,
    sessions: AwsSessions | None = None,
    workers: int = DEFAULT_WORKERS,
    clock: Callable[[], datetime] | None = None,
    progress: ProgressCallback | None = None,
) -> Snapshot:
    """Read the selected environments (all by default) into a Snapshot.

    `progress`, if given, is called once at the start and after every cluster and every
    environment read, from worker threads but never twice at once (_ProgressTracker)."""
    selected = config.select_environments(environments)
    sessions = sessions or AwsSessions(config)
    counter = CallCounter()
    taken_at = (clock or _utc_now)()
    tracker = _ProgressTracker(len(selected), progress)

    def read(env: Environment) -> EnvironmentSnapshot:
        snapshot = _read_environment(
            sessions.get(env.name),
            config.sidecars,
            counter,
            workers,
            tracker.services_read,
            config.registry_endpoints(),
        )
        tracker.environment_done()
        return snapshot

    try:
        with ThreadPoolExecutor(len(selected), thread_name_prefix="fp-env") as pool:
            results = list(pool.map(read, selected))
    finally:
        counter.detach_all()
    return Snapshot(
        environments=tuple(results),
        api_calls=counter.total,
        taken_at=taken_at,
        sidecar_names=tuple(s.name for s in config.sidecars),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _read_environment(
    aws: AwsEnvironment,
    sidecars: Sequence[Sidecar],
    counter: CallCounter,
    workers: int,
    on_services: Callable[[int], None] | None = None,
    endpoints: dict[str, str] | None = None,
) -> EnvironmentSnapshot:
    env = aws.environment
    try:
        ecs, ecr = aws.ecs(), aws.ecr()
        counter.attach(ecs)
        counter.attach(ecr)
        opened: dict[RegistryLocation, Registry] = {}
        lock = threading.Lock()

        def open_other(location: RegistryLocation) -> Registry:
            with lock:
                if location not in opened:
                    registry = open_registry(aws, location, endpoints or {})
                    if location.kind == "ecr" and location.region != env.region:
                        counter.attach(aws.ecr(location.region))
                    opened[location] = registry
                return opened[location]

        with ThreadPoolExecutor(workers, thread_name_prefix=f"fp-{env.name}") as calls:
            source = EcsFleetSource(ecs, env, calls)
            return read_environment(
                env,
                sidecars,
                source,
                EcrRegistry(ecr),
                calls,
                on_services=on_services,
                other_registries=open_other,
            )
    except (ClientError, BotoCoreError) as exc:
        return EnvironmentSnapshot(env.name, env.account_id, env.region, error=_one_line(env, exc))


def _one_line(env: Environment, exc: ClientError | BotoCoreError) -> str:
    failure = explain(env.name, exc)
    if failure is not None:
        return failure.message
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        return f"{exc.operation_name} failed: {code}: {message}".rstrip(": ")
    return str(exc)


def read_environment(
    env: Environment,
    sidecars: Sequence[Sidecar],
    source: FleetSource,
    registry: Registry,
    executor: ThreadPoolExecutor | None = None,
    *,
    on_services: Callable[[int], None] | None = None,
    other_registries: RegistryOpener | None = None,
) -> EnvironmentSnapshot:
    """Read one environment through any FleetSource and Registry (tests may pass fakes).
    `registry` is the environment's own ECR; `other_registries` opens any other registry a
    sidecar comes from (without it, such sidecars are reported as not readable).
    `on_services` hears how many services each cluster had, as soon as it is read."""

    def read_cluster(cluster: str) -> list[ServiceFacts]:
        services = source.read_cluster(cluster)
        if on_services is not None:
            on_services(len(services))
        return services

    clusters = source.clusters()
    if executor is not None and len(clusters) > 1:
        # Clusters in parallel, on their own threads: their calls go to `executor`.
        with ThreadPoolExecutor(min(len(clusters), 8), thread_name_prefix="fp-cluster") as pool:
            per_cluster = list(pool.map(read_cluster, clusters))
    else:
        per_cluster = [read_cluster(cluster) for cluster in clusters]
    facts = [service for services in per_cluster for service in services]

    reads = _repositories_to_read(env, sidecars, facts)

    def read_repository(read: _RepositoryRead) -> RepositorySnapshot:
        if read.location.kind == "own":
            return registry.repository(read.name, read.tags, read.digests)
        if other_registries is None:
            error = f"registry {read.location.host} is not read here"
            return RepositorySnapshot(read.name, error=error, registry=read.location.origin)
        opened = other_registries(read.location)
        return opened.repository(read.name, read.tags, read.digests)

    if executor is not None and len(reads) > 1:
        repositories = list(executor.map(read_repository, reads))
    else:
        repositories = [read_repository(read) for read in reads]
    by_name = {(repository.registry, repository.name): repository for repository in repositories}

    services = tuple(build_service(service, env, sidecars, by_name) for service in facts)
    return EnvironmentSnapshot(
        name=env.name,
        account=env.account_id,
        region=env.region,
        services=services,
        repositories=tuple(repositories),
    )


@dataclass(frozen=True)
class _RepositoryRead:
    """One repository to read, and what of it the fleet uses."""

    location: RegistryLocation
    name: str
    tags: tuple[str, ...]
    digests: tuple[str, ...]


_OWN = Sidecar(name="own", repository="own")


def sidecar_location(sidecar: Sidecar, env: Environment) -> RegistryLocation:
    """Where the sidecar's configured image lives, seen from `env`: its own ECR unless the
    sidecar names an `image` elsewhere."""
    if sidecar.image is None:
        return RegistryLocation("own", env.registry, env.account_id, env.region)
    return locate(parse_image(sidecar.image), env.account_id, env.region)


def _repositories_to_read(
    env: Environment, sidecars: Sequence[Sidecar], facts: Sequence[ServiceFacts]
) -> list[_RepositoryRead]:
    """The configured sidecar repositories, plus every repository (in any registry) a sidecar
    container uses, with the tags it references and the digests its tasks run."""
    tags: dict[tuple[RegistryLocation, str], list[str]] = defaultdict(list)
    digests: dict[tuple[RegistryLocation, str], list[str]] = defaultdict(list)
    for sidecar in sidecars:
        tags[(sidecar_location(sidecar, env), sidecar.repository)].append(sidecar.tag)
    for service in facts:
        for name, image in service.containers:
            ref = parse_image(image)
            if match_sidecar(name, ref, sidecars) is None:
                continue
            location = locate(ref, env.account_id, env.region)
            if location.kind == "own":  # one read however the host is spelt (-fips ...)
                location = sidecar_location(_OWN, env)
            key = (location, canonical(ref).repository)
            tags[key].extend([ref.tag] if ref.tag and not ref.by_digest else [])
            digests[key].extend(
                run.digest
                for task in service.tasks
                for run in task.containers
                if run.name == name and run.digest
            )
    return [
        _RepositoryRead(
            location,
            name,
            tuple(dict.fromkeys(tags[(location, name)])),
            tuple(dict.fromkeys(digests[(location, name)])),
        )
        for location, name in tags
    ]


# --- the join: ECS facts + ECR -> ServiceSnapshot ---------------------------------------------


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
