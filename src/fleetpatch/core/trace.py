"""`fleetpatch trace`: which environments, services and tasks run an image."""

from __future__ import annotations

from dataclasses import dataclass

from fleetpatch.core.images import digest_matches
from fleetpatch.core.snapshot import DigestCount, Snapshot


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
