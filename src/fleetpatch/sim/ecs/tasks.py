"""Tasks of a service's deployments: launching them, their start (pull, run or fail) and their
stop, and forgetting long-stopped ones. The schedulers (rolling.py, strategies.py) decide which
tasks to launch and stop; this module does it and keeps the indexes that ListTasks reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetpatch.sim.ecs.ids import IdGenerator
from fleetpatch.sim.ecs.models import (
    MAX_STOPPED_TASKS_PER_SERVICE,
    STOPPED_TASK_RETENTION_SECONDS,
    Container,
    Deployment,
    EcsAccount,
    Service,
    ServiceEvent,
    Task,
    split_image,
)
from fleetpatch.sim.protocol import FailureRules, ImageLookup, TaskFailure

# Stop reasons that mean the task never got its containers going.
FAILED_TO_START_PREFIXES = (
    "CannotPullContainerError",
    "CannotCreateContainerError",
    "CannotStartContainerError",
    "ResourceInitializationError",
    "TaskFailedToStart",
)

# Called when a task of a service failed to start or its essential container exited at once.
TaskFailedCallback = Callable[[EcsAccount, Service, Task, float], None]


def pull_error(ref: str) -> str:
    return (
        "CannotPullContainerError: pull image manifest has been retried 7 time(s): "
        f"failed to resolve ref {ref}: not found"
    )


class TaskRunner:
    def __init__(
        self,
        images: ImageLookup,
        failures: FailureRules,
        ids: IdGenerator,
        task_start_seconds: float,
        task_stop_seconds: float,
        on_failed: TaskFailedCallback,
    ) -> None:
        self.images = images
        self.failures = failures
        self.ids = ids
        self.task_start_seconds = task_start_seconds
        self.task_stop_seconds = task_stop_seconds
        self.on_failed = on_failed
        # While settling, tasks start and stop without delay (see RolloutEngine.settle).
        self.instant = False

    def launch_task(
        self,
        account: EcsAccount,
        service: Service,
        deployment: Deployment,
        t: float,
        container_instance_arn: str | None = None,
    ) -> Task:
        revision = deployment.revision
        cluster = account.clusters[service.cluster_name]
        td = account.find_task_definition(revision.task_definition_arn)
        body: dict[str, Any] = td.body if td else {}
        task_id = self.ids.task_id()
        definitions = {cd.get("name"): cd for cd in body.get("containerDefinitions", [])}
        containers = [
            Container(
                arn=account.arn(f"container/{service.cluster_name}/{task_id}/{self.ids.uuid()}"),
                name=ci.name,
                image=ci.image,
                digest=ci.digest if ci.consistent else None,
                consistent=ci.consistent,
                essential=ci.essential,
                cpu=str(definitions.get(ci.name, {}).get("cpu", 0)),
                memory=_str_or_none(definitions.get(ci.name, {}).get("memory")),
                memory_reservation=_str_or_none(
                    definitions.get(ci.name, {}).get("memoryReservation")
                ),
            )
            for ci in revision.container_images
        ]
        if container_instance_arn is None and service.launch_type == "EC2":
            # The scheduler places an EC2 task on a container instance (spread evenly).
            instances = cluster.active_instances
            if instances:
                container_instance_arn = instances[len(service.task_ids) % len(instances)].arn
        fargate = service.launch_type == "FARGATE"
        architecture = (body.get("runtimePlatform") or {}).get("cpuArchitecture") or "X86_64"
        family = td.family if td else revision.task_definition_arn.rsplit("/", 1)[-1].split(":")[0]
        task = Task(
            id=task_id,
            arn=account.arn(f"task/{service.cluster_name}/{task_id}"),
            cluster_arn=service.cluster_arn,
            service_name=service.name,
            family=family,
            task_definition_arn=revision.task_definition_arn,
            started_by=deployment.id,
            launch_type=service.launch_type,
            cpu=_str_or_none(body.get("cpu")),
            memory=_str_or_none(body.get("memory")),
            containers=containers,
            created_at=t,
            ready_at=t if self.instant else t + self.task_start_seconds,
            deployment=deployment,
            container_instance_arn=container_instance_arn,
            availability_zone=account.region + "abc"[int(task_id[:8], 16) % 3],
            platform_version=_fargate_platform_version(service) if fargate else None,
            platform_family="Linux" if fargate else None,
            cpu_architecture=architecture.lower(),
            enable_execute_command=service.enable_execute_command,
        )
        deployment.tasks[task_id] = task
        cluster.tasks[task_id] = task
        cluster.tasks_by_family.setdefault(family, {})[task_id] = None
        cluster.tasks_by_started_by.setdefault(deployment.id, {})[task_id] = None
        service.task_ids[task_id] = None
        return task

    def next_event_time(self, service: Service) -> float | None:
        """When the next task of `service` finishes starting or stopping."""
        times: list[float] = []
        for d in service.deployments:
            for task in d.tasks.values():
                if task.is_starting:
                    times.append(task.ready_at)
                elif task.is_stopping and task.stop_at is not None:
                    times.append(task.stop_at)
        return min(times) if times else None

    def process_due(self, account: EcsAccount, service: Service, t: float) -> None:
        due = [
            task
            for d in service.deployments
            for task in d.tasks.values()
            if (task.is_starting and task.ready_at <= t)
            or (task.is_stopping and task.stop_at is not None and task.stop_at <= t)
        ]
        for task in due:
            if task.is_starting:
                self._finish_start(account, service, task, t)
            else:
                self._finish_stop(account, service, task, t)

    def _finish_start(self, account: EcsAccount, service: Service, task: Task, t: float) -> None:
        """The task has pulled its images (or not) and its containers start (or exit)."""
        failure = self._pull(task)
        if failure is None:
            digests = {c.name: c.digest or "" for c in task.containers}
            rule = self.failures.task_failure(
                service.account, service.region, service.cluster_name, service.name, digests
            )
            if rule is not None:
                failure = self._container_failure(task, rule)
        if failure is None:
            task.last_status = "RUNNING"
            task.started_at = t
            task.version += 1
            for i, c in enumerate(task.containers):
                c.last_status = "RUNNING"
                c.runtime_id = f"{task.id}-{i}"
            return
        code, reason = failure
        task.desired_status = "STOPPED"
        task.stop_code = code
        task.stopped_reason = reason
        task.stopping_at = t
        if code == "EssentialContainerExited":
            task.started_at = t
        self._finish_stop(account, service, task, t)
        self.on_failed(account, service, task, t)

    def _pull(self, task: Task) -> tuple[str, str] | None:
        """Pull every image: by the deployment's digest when version consistency applies (an
        ECR lifecycle policy may have expired it since), else by the tag as it is now."""
        for c in task.containers:
            if c.consistent:
                ref = c.image if c.digest is None else f"{split_image(c.image)[0]}@{c.digest}"
                ok = c.digest is not None and self.images.digest_for(ref) is not None
            else:
                ref = c.image
                c.digest = self.images.digest_for(ref)
                ok = c.digest is not None
            if not ok:
                reason = pull_error(ref)
                c.reason = reason
                return "TaskFailedToStart", reason
        return None

    def _container_failure(self, task: Task, rule: TaskFailure) -> tuple[str, str]:
        """(stopCode, stoppedReason) as ECS reports them: a failure to start is the task's
        reason; an exit is "Essential container in task exited", with the exiting container
        (the one the rule names, else the first essential one) carrying the reason."""
        if rule.reason.startswith(FAILED_TO_START_PREFIXES):
            return "TaskFailedToStart", rule.reason
        essential = [c for c in task.containers if c.essential] or task.containers
        blamed = next((c for c in essential if c.name == rule.container), essential[0])
        blamed.reason = rule.reason
        blamed.exit_code = 1
        return "EssentialContainerExited", "Essential container in task exited"

    def stop_by_scheduler(
        self, account: EcsAccount, service: Service, task: Task, t: float
    ) -> None:
        deployment_id = service.primary.id if service.primary else task.started_by
        self.stop_task(
            account,
            service,
            task,
            t,
            "ServiceSchedulerInitiated",
            f"Scaling activity initiated by (deployment {deployment_id})",
        )

    def stop_task(
        self, account: EcsAccount, service: Service, task: Task, t: float, code: str, reason: str
    ) -> None:
        """Ask a task to stop. A task that never started is gone at once; a running one takes
        task_stop_seconds (connection draining, SIGTERM)."""
        if task.desired_status == "STOPPED":
            return
        was_running = task.is_running
        task.desired_status = "STOPPED"
        task.stop_code = code
        task.stopped_reason = reason
        task.stopping_at = t
        task.version += 1
        if not was_running or self.instant:
            self._finish_stop(account, service, task, t)
            return
        task.last_status = "DEACTIVATING"
        task.stop_at = t + self.task_stop_seconds

    def _finish_stop(self, account: EcsAccount, service: Service, task: Task, t: float) -> None:
        task.last_status = "STOPPED"
        task.stopped_at = t
        task.version += 1
        for c in task.containers:
            if c.last_status == "RUNNING" and c.exit_code is None:
                c.exit_code = 0
            c.last_status = "STOPPED"
        if task.deployment is not None:
            task.deployment.tasks.pop(task.id, None)
        if task.stop_code == "ServiceSchedulerInitiated" and task.started_at is not None:
            self.event(
                service,
                t,
                f"(service {service.name}) has stopped 1 running tasks: (task {task.id}).",
            )
        service.stopped_task_ids.append(task.id)
        self._forget_old_stopped_tasks(account, service, t)

    def _forget_old_stopped_tasks(self, account: EcsAccount, service: Service, t: float) -> None:
        cluster = account.clusters.get(service.cluster_name)
        if cluster is None:
            return
        stopped = service.stopped_task_ids
        while stopped:
            oldest = cluster.tasks.get(stopped[0])
            expired = (
                oldest is None or (oldest.stopped_at or t) < t - STOPPED_TASK_RETENTION_SECONDS
            )
            if len(stopped) <= MAX_STOPPED_TASKS_PER_SERVICE and not expired:
                return
            task_id = stopped.popleft()
            task = cluster.tasks.pop(task_id, None)
            service.task_ids.pop(task_id, None)
            if task is None:
                continue
            cluster.tasks_by_family.get(task.family, {}).pop(task_id, None)
            by_started = cluster.tasks_by_started_by.get(task.started_by)
            if by_started is not None:
                by_started.pop(task_id, None)
                if not by_started:
                    del cluster.tasks_by_started_by[task.started_by]

    # --- small helpers ----------------------------------------------------------------------

    def event(self, service: Service, t: float, message: str) -> None:
        service.events.appendleft(ServiceEvent(id=self.ids.uuid(), created_at=t, message=message))


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _fargate_platform_version(service: Service) -> str:
    """The platform version a Fargate task runs: LATEST is 1.4.0 on Linux."""
    given = service.platform_version
    return "1.4.0" if given in (None, "LATEST") else str(given)
