"""Read one environment: its clusters' services through a `FleetSource`, then every
repository its sidecars use through a `Registry`, joined into an `EnvironmentSnapshot`.

Pure of AWS: `collect` passes the ECS and ECR adapters, tests may pass fakes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fleetpatch.config import Environment, Sidecar
from fleetpatch.core.images import (
    RegistryLocation,
    canonical,
    configured_location,
    locate,
    parse_image,
)
from fleetpatch.core.snapshot import EnvironmentSnapshot, RepositorySnapshot
from fleetpatch.inventory.assemble import build_service, match_sidecar
from fleetpatch.inventory.fleet import FleetSource, ServiceFacts
from fleetpatch.inventory.registry import Registry

# Opens the registry a location names (another account's ECR, an OCI registry).
RegistryOpener = Callable[[RegistryLocation], Registry]


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


def _repositories_to_read(
    env: Environment, sidecars: Sequence[Sidecar], facts: Sequence[ServiceFacts]
) -> list[_RepositoryRead]:
    """The configured sidecar repositories, plus every repository (in any registry) a sidecar
    container uses, with the tags it references and the digests its tasks run."""
    tags: dict[tuple[RegistryLocation, str], list[str]] = defaultdict(list)
    digests: dict[tuple[RegistryLocation, str], list[str]] = defaultdict(list)
    for sidecar in sidecars:
        configured = configured_location(sidecar.image, env.account_id, env.region)
        tags[(configured, sidecar.repository)].append(sidecar.tag)
    for service in facts:
        for name, image in service.containers:
            ref = parse_image(image)
            if match_sidecar(name, ref, sidecars) is None:
                continue
            location = locate(ref, env.account_id, env.region)
            if location.kind == "own":  # one read however the host is spelt (-fips ...)
                location = configured_location(None, env.account_id, env.region)
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
