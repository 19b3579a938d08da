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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.aws.errors import explain
from fleetpatch.aws.session import AwsEnvironment, AwsSessions
from fleetpatch.config import Config, Environment, Sidecar
from fleetpatch.core.images import RegistryLocation
from fleetpatch.core.snapshot import EnvironmentSnapshot, Snapshot
from fleetpatch.inventory.answers import AnswerCache
from fleetpatch.inventory.environment import read_environment
from fleetpatch.inventory.fleet import EcsFleetSource
from fleetpatch.inventory.registry import EcrRegistry, Registry, open_registry

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
    answers: AnswerCache | None = None,
) -> Snapshot:
    """Read the selected environments (all by default) into a Snapshot.

    `answers`: where answers AWS never changes are kept between runs (inventory/answers.py);
    without it every read is cold.

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
            answers,
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
    answers: AnswerCache | None = None,
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
            source = EcsFleetSource(ecs, env, calls, answers)
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
