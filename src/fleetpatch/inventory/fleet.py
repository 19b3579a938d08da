"""Reading ECS: which services exist, what their task definitions say, what their tasks run.

`EcsFleetSource` makes as few calls as the ECS API allows (see docs/inventory.md):

- ListClusters / ListServices pages of 100, filtered by the config's globs;
- DescribeServices 10 services per call;
- DescribeTaskDefinition once per distinct task definition revision, and never again once
  the answer cache (inventory/answers.py) has it: a revision never changes;
- ListTasks pages of 100: for the whole cluster when every service of the cluster is
  selected (tasks of all services share pages), else per service that has tasks;
- DescribeTasks 100 tasks per call, batched across the services of a cluster;
- DescribeServiceRevisions 20 revisions per call, for services with revisions the answer
  cache doesn't have yet.

Batches run in parallel on the executor given by the caller.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fleetpatch.config import Environment
from fleetpatch.core.strategies import strategy_bake_minutes
from fleetpatch.inventory.answers import (
    SERVICE_REVISION,
    TASK_DEFINITION,
    AnswerCache,
    NoAnswerCache,
)

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

T = TypeVar("T")
R = TypeVar("R")

SERVICES_PER_DESCRIBE = 10
TASKS_PER_DESCRIBE = 100
REVISIONS_PER_DESCRIBE = 20
PAGE_SIZE = 100


@dataclass(frozen=True)
class ContainerRun:
    """One container of one task: the image as the task started it and the digest it runs."""

    name: str
    image: str
    digest: str | None


@dataclass(frozen=True)
class TaskFacts:
    task_id: str
    last_status: str
    containers: tuple[ContainerRun, ...]


@dataclass(frozen=True)
class ServiceFacts:
    """Everything ECS says about one service that inventory needs, before any ECR lookup."""

    cluster: str
    service: str
    task_definition: str  # family:revision
    containers: tuple[tuple[str, str], ...]  # (name, image) as the task definition writes
    desired_count: int
    running_count: int
    pending_count: int
    deployment: str | None  # rolloutState of the PRIMARY deployment
    deployments: int
    tasks: tuple[TaskFacts, ...]
    # The newest current service revision and its containerImages (name, image, digest).
    revision_arn: str | None = None
    revision_images: tuple[ContainerRun, ...] = ()
    # What decides whether fleetpatch may deploy it (rollout/plan.py `ineligible`).
    controller: str = "ECS"  # deploymentController.type: ECS | CODE_DEPLOY | EXTERNAL
    status: str = "ACTIVE"  # ACTIVE | DRAINING
    scheduling: str = "REPLICA"  # REPLICA | DAEMON
    resource_management: str = "CUSTOMER"  # ECS: an Express Mode service
    # How long its strategy bakes at least (bake, linear steps, canary), minutes: the plan's
    # estimate of each wave.
    strategy_bake_minutes: float = 0.0


class FleetSource(Protocol):
    """Where services and tasks come from (ECS today; another orchestrator later)."""

    def clusters(self) -> list[str]:
        """Names of the clusters to read."""
        ...

    def read_cluster(self, cluster: str) -> list[ServiceFacts]:
        """Every selected service of `cluster` with its tasks."""
        ...


class EcsFleetSource:
    """A FleetSource over one environment's ECS API."""

    def __init__(
        self,
        ecs: ECSClient,
        environment: Environment,
        executor: Executor | None = None,
        answers: AnswerCache | None = None,
    ) -> None:
        self._ecs = ecs
        self._env = environment
        self._executor = executor
        self._answers = answers or NoAnswerCache()
        self._lock = threading.Lock()
        # task definition ARN -> future of its (name, image) list: one call per revision,
        # even when two clusters ask for it at the same time.
        self._task_definitions: dict[str, Future[tuple[tuple[str, str], ...]]] = {}

    # --- FleetSource ------------------------------------------------------------------------

    def clusters(self) -> list[str]:
        arns = self._pages("list_clusters", "clusterArns", {})
        names = [_last(arn) for arn in arns]
        return [name for name in names if self._env.matches_cluster(name)]

    def read_cluster(self, cluster: str) -> list[ServiceFacts]:
        all_arns = self._pages("list_services", "serviceArns", {"cluster": cluster})
        arns = [arn for arn in all_arns if self._env.matches_service(_last(arn))]
        if not arns:
            return []
        services = self._describe_services(cluster, arns)
        # An EXTERNAL-controller service may have no task definition of its own.
        definitions = self._task_definitions_of(
            s["taskDefinition"] for s in services if s.get("taskDefinition")
        )
        whole_cluster = len(arns) == len(all_arns)
        tasks = self._tasks(cluster, services, whole_cluster)
        revisions = self._revisions(services)
        return [
            _service_facts(cluster, s, definitions, tasks.get(s["serviceName"], []), revisions)
            for s in services
        ]

    # --- calls ----------------------------------------------------------------------------

    def _describe_services(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
        def describe(batch: list[str]) -> list[dict[str, Any]]:
            answer = self._ecs.describe_services(cluster=cluster, services=batch)
            return [dict(s) for s in answer["services"] if s.get("status") != "INACTIVE"]

        pages = self._map(describe, _chunks(arns, SERVICES_PER_DESCRIBE))
        return [service for page in pages for service in page]

    def _task_definitions_of(self, arns: Iterable[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        futures: dict[str, Future[tuple[tuple[str, str], ...]]] = {}
        to_fetch: list[str] = []
        wanted = list(dict.fromkeys(arns))
        cached = self._answers.get_many(TASK_DEFINITION, wanted)
        with self._lock:
            for arn in wanted:
                future = self._task_definitions.get(arn)
                if future is None:
                    future = self._task_definitions[arn] = Future()
                    if arn in cached:
                        future.set_result(tuple((str(n), str(i)) for n, i in cached[arn]))
                    else:
                        to_fetch.append(arn)
                futures[arn] = future

        def fetch(arn: str) -> None:
            try:
                answer = self._ecs.describe_task_definition(taskDefinition=arn)
                definitions = answer["taskDefinition"].get("containerDefinitions", [])
                futures[arn].set_result(
                    tuple((str(c.get("name", "")), str(c.get("image", ""))) for c in definitions)
                )
            except BaseException as exc:
                futures[arn].set_exception(exc)
                raise

        self._map(fetch, to_fetch)
        fetched = {arn: [list(pair) for pair in futures[arn].result()] for arn in to_fetch}
        self._answers.put_many(TASK_DEFINITION, fetched)
        return {arn: future.result() for arn, future in futures.items()}

    def _tasks(
        self, cluster: str, services: list[dict[str, Any]], whole_cluster: bool
    ) -> dict[str, list[TaskFacts]]:
        """service name -> its tasks that ECS wants RUNNING (running, starting)."""
        with_tasks = [s for s in services if s.get("runningCount", 0) + s.get("pendingCount", 0)]
        if not with_tasks:
            return {}
        if whole_cluster:
            arns = self._pages(
                "list_tasks", "taskArns", {"cluster": cluster, "desiredStatus": "RUNNING"}
            )
        else:

            def list_for(service: dict[str, Any]) -> list[str]:
                params = {
                    "cluster": cluster,
                    "serviceName": service["serviceName"],
                    "desiredStatus": "RUNNING",
                }
                return self._pages("list_tasks", "taskArns", params)

            arns = [arn for page in self._map(list_for, with_tasks) for arn in page]
        return self._describe_tasks(cluster, arns)

    def _describe_tasks(self, cluster: str, arns: list[str]) -> dict[str, list[TaskFacts]]:
        def describe(batch: list[str]) -> list[dict[str, Any]]:
            answer = self._ecs.describe_tasks(cluster=cluster, tasks=batch)
            return [dict(t) for t in answer["tasks"]]

        by_service: dict[str, list[TaskFacts]] = defaultdict(list)
        for page in self._map(describe, _chunks(arns, TASKS_PER_DESCRIBE)):
            for task in page:
                group = str(task.get("group", ""))
                if not group.startswith("service:"):
                    continue  # a standalone task (RunTask), not a service's
                by_service[group.removeprefix("service:")].append(_task_facts(task))
        return by_service

    def _revisions(self, services: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """revision ARN -> the ServiceRevision, for each service's newest current revision."""
        arns = [arn for s in services if (arn := _current_revision_arn(s)) is not None]
        if not arns:
            return {}
        # Only what inventory reads of a revision is kept: its containerImages.
        found: dict[str, dict[str, Any]] = {
            arn: {"containerImages": images}
            for arn, images in self._answers.get_many(SERVICE_REVISION, arns).items()
        }
        missing = [arn for arn in dict.fromkeys(arns) if arn not in found]

        def describe(batch: list[str]) -> list[dict[str, Any]]:
            answer = self._ecs.describe_service_revisions(serviceRevisionArns=batch)
            return [dict(r) for r in answer["serviceRevisions"]]

        pages = self._map(describe, _chunks(missing, REVISIONS_PER_DESCRIBE))
        read = {r["serviceRevisionArn"]: r for page in pages for r in page}
        found.update(read)
        self._answers.put_many(
            SERVICE_REVISION,
            {arn: _image_facts(revision) for arn, revision in read.items() if _settled(revision)},
        )
        return found

    def _pages(self, operation: str, key: str, params: dict[str, Any]) -> list[str]:
        paginator = self._ecs.get_paginator(operation)  # type: ignore[call-overload]
        items: list[str] = []
        for page in paginator.paginate(**params, PaginationConfig={"PageSize": PAGE_SIZE}):
            items.extend(page[key])
        return items

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """fn over items, in parallel on the executor when there is more than one."""
        if self._executor is None or len(items) < 2:
            return [fn(item) for item in items]
        return list(self._executor.map(fn, items))


# --- shaping the answers -------------------------------------------------------------------------


def _service_facts(
    cluster: str,
    service: dict[str, Any],
    definitions: dict[str, tuple[tuple[str, str], ...]],
    tasks: list[TaskFacts],
    revisions: dict[str, dict[str, Any]],
) -> ServiceFacts:
    deployments = service.get("deployments", [])
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    revision_arn = _current_revision_arn(service)
    revision = revisions.get(revision_arn) if revision_arn else None
    images: tuple[ContainerRun, ...] = ()
    if revision is not None:
        images = tuple(
            ContainerRun(
                name=str(c.get("containerName", "")),
                image=str(c.get("image", "")),
                digest=c.get("imageDigest"),
            )
            for c in revision.get("containerImages", [])
        )
    task_definition = str(service.get("taskDefinition") or "")
    return ServiceFacts(
        cluster=cluster,
        service=service["serviceName"],
        task_definition=_family_revision(task_definition),
        containers=definitions.get(task_definition, ()),
        desired_count=int(service.get("desiredCount", 0)),
        running_count=int(service.get("runningCount", 0)),
        pending_count=int(service.get("pendingCount", 0)),
        deployment=primary.get("rolloutState") if primary else None,
        deployments=len(deployments),
        tasks=tuple(sorted(tasks, key=lambda t: t.task_id)),
        revision_arn=revision_arn if revision is not None else None,
        revision_images=images,
        controller=str((service.get("deploymentController") or {}).get("type") or "ECS"),
        status=str(service.get("status") or "ACTIVE"),
        scheduling=str(service.get("schedulingStrategy") or "REPLICA"),
        resource_management=str(service.get("resourceManagementType") or "CUSTOMER"),
        strategy_bake_minutes=strategy_bake_minutes(service.get("deploymentConfiguration")),
    )


def _current_revision_arn(service: dict[str, Any]) -> str | None:
    """The current revision the service's latest deployment targets.

    Mid-deployment a service has two current revisions (old and new). ECS asks for the
    desired count only on the target one (`requestedTaskCount`), the old one drains to 0;
    on a tie (desired count 0) the first listed, which is the PRIMARY deployment's.
    """
    current = service.get("currentServiceRevisions") or []
    if not current:
        return None
    target = max(current, key=lambda r: int(r.get("requestedTaskCount", 0)))
    return str(target["arn"])


def _settled(revision: dict[str, Any]) -> bool:
    """Whether ECS has resolved every image of the revision to its digest (then it is final)."""
    images = revision.get("containerImages") or []
    return bool(images) and all(c.get("imageDigest") for c in images)


def _image_facts(revision: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "containerName": str(c.get("containerName", "")),
            "image": str(c.get("image", "")),
            "imageDigest": str(c.get("imageDigest", "")),
        }
        for c in revision.get("containerImages", [])
    ]


def _task_facts(task: dict[str, Any]) -> TaskFacts:
    return TaskFacts(
        task_id=_last(str(task["taskArn"])),
        last_status=str(task.get("lastStatus", "")),
        containers=tuple(
            ContainerRun(
                name=str(c.get("name", "")),
                image=str(c.get("image", "")),
                digest=c.get("imageDigest"),
            )
            for c in task.get("containers", [])
        ),
    )


def _family_revision(task_definition_arn: str) -> str:
    """arn:aws:ecs:...:task-definition/api:7 -> api:7."""
    return task_definition_arn.rsplit("/", 1)[-1]


def _last(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
