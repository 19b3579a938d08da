"""The rolling-deployment scheduler: it starts deployments and moves services through simulated
time.

Nothing runs in the background. A call that reads a service first `advance`s it to the clock's
now: every task start, task stop, launch and state change up to then is computed in time order,
with the timestamps it would have had. Only services with something in flight are ever advanced
(the account's `busy_services`), so a fleet of idle services costs nothing.

One step of the scheduler (`reconcile`) does what the ECS service scheduler does for a rolling
update: stop surplus tasks, stop old tasks as far as minimumHealthyPercent allows, launch new
tasks as far as maximumPercent allows, and declare the deployment COMPLETED once only the new
tasks run.
"""

from __future__ import annotations

import math
from typing import Any

from fleetpatch.sim.ecs.ids import IdGenerator
from fleetpatch.sim.ecs.models import (
    MAX_STOPPED_TASKS_PER_SERVICE,
    STOPPED_TASK_RETENTION_SECONDS,
    Container,
    ContainerImage,
    Deployment,
    EcsAccount,
    RevisionSummary,
    Rollback,
    Service,
    ServiceDeployment,
    ServiceEvent,
    ServiceRevision,
    Task,
    TaskDefinition,
    split_image,
)
from fleetpatch.sim.protocol import AwsError, FailureRules, ImageLookup, TaskFailure

CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."

# Stop reasons that mean the task never got its containers going.
FAILED_TO_START_PREFIXES = (
    "CannotPullContainerError",
    "CannotCreateContainerError",
    "CannotStartContainerError",
    "ResourceInitializationError",
    "TaskFailedToStart",
)

# ECS throttles launches for a service whose tasks keep failing. After this many failed tasks
# in a deployment, each further launch waits longer, up to the cap; this also bounds how much
# work a deployment that fails forever costs when the clock jumps ahead by days.
THROTTLE_AFTER_FAILURES = 10
THROTTLE_BASE_SECONDS = 15.0
THROTTLE_MAX_SECONDS = 900.0

# A safety net for `advance`: far more steps than any real rollout takes between two calls.
MAX_STEPS_PER_ADVANCE = 20_000


def circuit_breaker_threshold(desired_count: int) -> int:
    """0.5 x desired count, at least 3, at most 200 (ECS developer guide)."""
    return min(200, max(3, math.ceil(0.5 * desired_count)))


def pull_error(ref: str) -> str:
    return (
        "CannotPullContainerError: pull image manifest has been retried 7 time(s): "
        f"failed to resolve ref {ref}: not found"
    )


class RolloutEngine:
    def __init__(
        self,
        images: ImageLookup,
        failures: FailureRules,
        ids: IdGenerator,
        task_start_seconds: float,
        task_stop_seconds: float,
    ) -> None:
        self.images = images
        self.failures = failures
        self.ids = ids
        self.task_start_seconds = task_start_seconds
        self.task_stop_seconds = task_stop_seconds
        # While settling, tasks start and stop without delay (see `settle`).
        self._instant = False

    # --- starting deployments ------------------------------------------------------------

    def new_revision(
        self, account: EcsAccount, service: Service, td: TaskDefinition, now: float
    ) -> ServiceRevision:
        """A service revision with every container's image resolved to a digest now: software
        version consistency. Containers that opted out are resolved per task instead."""
        images: list[ContainerImage] = []
        for cd in td.container_definitions:
            image = str(cd.get("image", ""))
            consistent = cd.get("versionConsistency", "enabled") != "disabled"
            digest: str | None = None
            if consistent:
                # An image given by digest needs no resolution; whether it still exists is
                # checked when a task pulls it.
                digest = split_image(image)[2] or self.images.digest_for(image)
            essential = bool(cd.get("essential", True))
            images.append(
                ContainerImage(str(cd.get("name", "")), image, digest, consistent, essential)
            )
        revision_id = self.ids.revision_id()
        revision = ServiceRevision(
            arn=account.arn(
                f"service-revision/{service.cluster_name}/{service.name}/{revision_id}"
            ),
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            task_definition_arn=td.arn,
            launch_type=service.launch_type,
            platform_version=service.platform_version,
            network_configuration=service.network_configuration,
            container_images=images,
            created_at=now,
        )
        account.service_revisions[revision.arn] = revision
        return revision

    def start_deployment(
        self, account: EcsAccount, service: Service, revision: ServiceRevision, now: float
    ) -> Deployment:
        """A new PRIMARY deployment (and ServiceDeployment) rolling out `revision`."""
        breaker = service.deployment_configuration.get("deploymentCircuitBreaker") or {}
        breaker_on = bool(breaker.get("enable"))
        sd_id = self.ids.service_deployment_id()
        sd = ServiceDeployment(
            arn=account.arn(f"service-deployment/{service.cluster_name}/{service.name}/{sd_id}"),
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            created_at=now,
            target_revision=revision,
            source_revisions=[
                RevisionSummary(
                    arn=d.revision.arn,
                    requested=d.desired_count,
                    running=sum(1 for t in d.tasks.values() if t.is_running),
                    pending=sum(1 for t in d.tasks.values() if t.is_starting),
                )
                for d in service.deployments
            ],
            deployment_configuration=_copy_json(service.deployment_configuration),
            status="IN_PROGRESS",
            started_at=now,
            updated_at=now,
            circuit_breaker_enabled=breaker_on,
            circuit_breaker_status="MONITORING" if breaker_on else "DISABLED",
            threshold=circuit_breaker_threshold(service.desired_count),
        )
        deployment_id = self.ids.deployment_id()
        deployment = Deployment(
            id=deployment_id,
            revision=revision,
            service_deployment=sd,
            desired_count=service.desired_count,
            created_at=now,
            updated_at=now,
            rollout_state_reason=f"ECS deployment {deployment_id} in progress.",
        )
        sd.deployment = deployment
        for old in service.deployments:
            old.status = "ACTIVE"
            old.updated_at = now
            old_sd = old.service_deployment
            if old_sd.in_progress and old_sd is not sd:
                old_sd.status = "STOPPED"
                old_sd.status_reason = "Service deployment was superseded by a new deployment."
                old_sd.stopped_at = now
                old_sd.updated_at = now
        service.deployments.insert(0, deployment)
        service.service_deployments.append(sd)
        service.task_definition_arn = revision.task_definition_arn
        account.service_deployments[sd.arn] = sd
        self.reconcile(account, service, now)
        self.update_busy(account, service)
        return deployment

    def stop_service_deployment(
        self,
        account: EcsAccount,
        service: Service,
        sd: ServiceDeployment,
        stop_type: str,
        now: float,
    ) -> None:
        """StopServiceDeployment: ROLLBACK returns to the last successful revision even when the
        service has no rollback configured; ABORT just stops launching."""
        deployment = sd.deployment
        if not sd.in_progress or sd.status.startswith("ROLLBACK") or deployment is None:
            raise AwsError(
                "ConflictException",
                f"The service deployment {sd.arn} is in status {sd.status} and cannot be stopped.",
            )
        if deployment is not service.primary:
            raise AwsError("ConflictException", "The service deployment is no longer active.")
        if stop_type == "ABORT":
            deployment.launching = False
            deployment.rollout_state = "FAILED"
            deployment.rollout_state_reason = f"ECS deployment {deployment.id} stopped."
            deployment.updated_at = now
            sd.status = "STOPPED"
            sd.status_reason = "Service deployment stopped on request."
            sd.stopped_at = now
            sd.updated_at = now
            self.update_busy(account, service)
            return
        if service.last_completed is None:
            raise AwsError(
                "ConflictException", "There is no successful service revision to roll back to."
            )
        deployment.launching = False
        deployment.rollout_state = "FAILED"
        deployment.rollout_state_reason = f"ECS deployment {deployment.id} stopped: rolling back."
        deployment.updated_at = now
        sd.status_reason = "Service deployment rolled back on request."
        self._start_rollback(account, service, deployment, "Stopped by user request.", now)
        self.reconcile(account, service, now)
        self.update_busy(account, service)

    # --- moving through time --------------------------------------------------------------

    def advance(self, account: EcsAccount, service: Service, now: float) -> None:
        """Compute everything that happens to `service` up to `now`, in time order."""
        if service.arn not in account.busy_services:
            service.advanced_to = max(service.advanced_to, now)
            return
        for _ in range(MAX_STEPS_PER_ADVANCE):
            t = self._next_event_time(service)
            if t is None or t > now:
                break
            t = max(t, service.advanced_to)
            self._process_due(account, service, t)
            service.advanced_to = t
            self.reconcile(account, service, t)
        service.advanced_to = max(service.advanced_to, now)
        self.update_busy(account, service)

    def settle(self, account: EcsAccount, service: Service, now: float) -> None:
        """Finish what is in flight as if enough time had passed, stamping everything `now`."""
        self.advance(account, service, now)
        self._instant = True
        try:
            for deployment in service.deployments:
                for task in deployment.tasks.values():
                    if task.is_starting:
                        task.ready_at = now
                    elif task.is_stopping:
                        task.stop_at = now
            account.busy_services[service.arn] = service
            self.reconcile(account, service, now)
            self.advance(account, service, now)
        finally:
            self._instant = False

    def update_busy(self, account: EcsAccount, service: Service) -> None:
        if self._is_busy(service):
            account.busy_services[service.arn] = service
        else:
            account.busy_services.pop(service.arn, None)

    def reconcile(self, account: EcsAccount, service: Service, t: float) -> None:
        """One pass of the service scheduler at time `t`."""
        primary = service.primary
        if primary is None or service.status == "INACTIVE":
            return
        if service.status == "DRAINING":
            self._drain(account, service, t)
            return

        desired = service.desired_count
        primary.desired_count = desired
        config = service.deployment_configuration
        max_total = desired * int(config.get("maximumPercent", 200)) // 100
        min_healthy = math.ceil(desired * int(config.get("minimumHealthyPercent", 100)) / 100)
        old_deployments = service.deployments[1:]

        # Scale-in: surplus tasks of the primary go, those still starting first.
        new_live = [task for task in primary.tasks.values() if not task.is_stopping]
        surplus = len(new_live) - desired
        if surplus > 0:
            new_live.sort(key=lambda task: (task.is_running, task.created_at))
            for task in new_live[:surplus]:
                self._stop_by_scheduler(account, service, task, t)

        # Old tasks are replaced only while the new deployment is still going somewhere.
        if primary.launching:
            old_live = [
                task for d in old_deployments for task in d.tasks.values() if not task.is_stopping
            ]
            # Old tasks that never became healthy serve nobody: they go at once.
            for task in old_live:
                if task.is_starting:
                    self._stop_by_scheduler(account, service, task, t)
            old_running = sorted(
                (task for task in old_live if task.is_running), key=lambda task: task.created_at
            )
            running_total = len(old_running) + sum(
                1 for task in primary.tasks.values() if task.is_running
            )
            stop_allowance = max(0, running_total - min_healthy)
            for task in old_running[:stop_allowance]:
                self._stop_by_scheduler(account, service, task, t)

        if primary.launching and t >= primary.next_launch_at:
            self._launch_for(account, service, primary, desired, max_total, t)

        self._complete_if_done(service, t)
        for d in old_deployments:
            # An old deployment is being scaled down to nothing: it wants what it still has.
            d.desired_count = sum(1 for task in d.tasks.values() if not task.is_stopping)
            if not d.tasks:
                d.status = "INACTIVE"
                d.updated_at = t
                service.deployments.remove(d)

    # --- scheduler pieces -------------------------------------------------------------------

    def _launch_for(
        self,
        account: EcsAccount,
        service: Service,
        primary: Deployment,
        desired: int,
        max_total: int,
        t: float,
    ) -> None:
        live = [
            task for d in service.deployments for task in d.tasks.values() if not task.is_stopping
        ]
        wanted = desired - sum(1 for task in live if task.deployment is primary)
        if wanted <= 0:
            return
        count = min(wanted, max_total - len(live))
        in_flight = any(
            task.is_starting or task.is_stopping
            for d in service.deployments
            for task in d.tasks.values()
        )
        if count <= 0 and not in_flight:
            # The percent bounds leave no room (e.g. 100/100) and nothing is starting or
            # stopping that could make room: let one task through rather than hang forever.
            count = 1
        if count <= 0:
            return
        started = [self._launch_task(account, service, primary, t) for _ in range(count)]
        ids = " ".join(f"(task {task.id})" for task in started)
        self._event(service, t, f"(service {service.name}) has started {count} tasks: {ids}.")

    def _launch_task(
        self, account: EcsAccount, service: Service, deployment: Deployment, t: float
    ) -> Task:
        revision = deployment.revision
        cluster = account.clusters[service.cluster_name]
        td = account.find_task_definition(revision.task_definition_arn)
        body: dict[str, Any] = td.body if td else {}
        task_id = self.ids.task_id()
        containers = [
            Container(
                arn=account.arn(f"container/{service.cluster_name}/{task_id}/{self.ids.uuid()}"),
                name=ci.name,
                image=ci.image,
                digest=ci.digest if ci.consistent else None,
                consistent=ci.consistent,
                essential=ci.essential,
            )
            for ci in revision.container_images
        ]
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
            ready_at=t if self._instant else t + self.task_start_seconds,
            deployment=deployment,
        )
        deployment.tasks[task_id] = task
        cluster.tasks[task_id] = task
        cluster.tasks_by_family.setdefault(family, {})[task_id] = None
        cluster.tasks_by_started_by.setdefault(deployment.id, {})[task_id] = None
        service.task_ids[task_id] = None
        return task

    def _next_event_time(self, service: Service) -> float | None:
        times: list[float] = []
        for d in service.deployments:
            for task in d.tasks.values():
                if task.is_starting:
                    times.append(task.ready_at)
                elif task.is_stopping and task.stop_at is not None:
                    times.append(task.stop_at)
        primary = service.primary
        if primary and primary.launching and primary.next_launch_at > service.advanced_to:
            times.append(primary.next_launch_at)
        return min(times) if times else None

    def _process_due(self, account: EcsAccount, service: Service, t: float) -> None:
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
            for c in task.containers:
                c.last_status = "RUNNING"
            return
        code, reason = failure
        task.desired_status = "STOPPED"
        task.stop_code = code
        task.stopped_reason = reason
        task.stopping_at = t
        if code == "EssentialContainerExited":
            task.started_at = t
        self._finish_stop(account, service, task, t)
        self._on_task_failed(account, service, task, t)

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

    def _on_task_failed(self, account: EcsAccount, service: Service, task: Task, t: float) -> None:
        deployment = task.deployment
        if deployment is None:
            return
        deployment.failed_tasks += 1
        deployment.updated_at = t
        if deployment.failed_tasks >= THROTTLE_AFTER_FAILURES:
            steps = deployment.failed_tasks - THROTTLE_AFTER_FAILURES
            delay = min(THROTTLE_MAX_SECONDS, THROTTLE_BASE_SECONDS * 2 ** min(steps, 16))
            deployment.next_launch_at = t + delay
            if deployment.failed_tasks == THROTTLE_AFTER_FAILURES:
                self._event(
                    service,
                    t,
                    f"(service {service.name}) is unable to consistently start tasks successfully."
                    " For more information, see the Troubleshooting section of the Amazon ECS"
                    " Developer Guide.",
                )
        sd = deployment.service_deployment
        if (
            deployment is not service.primary
            or deployment.rollout_state != "IN_PROGRESS"
            or not sd.circuit_breaker_enabled
        ):
            return
        if not deployment.is_rollback:
            sd.failure_count = deployment.failed_tasks
            sd.updated_at = t
        if deployment.failed_tasks < sd.threshold:
            return
        self._trip_circuit_breaker(account, service, deployment, t)

    def _trip_circuit_breaker(
        self, account: EcsAccount, service: Service, deployment: Deployment, t: float
    ) -> None:
        sd = deployment.service_deployment
        deployment.rollout_state = "FAILED"
        deployment.rollout_state_reason = CIRCUIT_BREAKER_REASON
        deployment.launching = False
        deployment.updated_at = t
        sd.circuit_breaker_status = "TRIGGERED"
        sd.updated_at = t
        self._event(
            service,
            t,
            f"(service {service.name}) (deployment {deployment.id}) deployment failed: "
            "tasks failed to start.",
        )
        if deployment.is_rollback:
            sd.status = "ROLLBACK_FAILED"
            sd.status_reason = "The rollback failed: tasks failed to start."
            sd.finished_at = t
            return
        breaker = sd.deployment_configuration.get("deploymentCircuitBreaker") or {}
        if not breaker.get("rollback"):
            sd.status = "STOPPED"
            sd.status_reason = CIRCUIT_BREAKER_REASON
            sd.stopped_at = t
            sd.finished_at = t
            return
        if service.last_completed is None:
            sd.status = "ROLLBACK_FAILED"
            sd.status_reason = "There is no successful service revision to roll back to."
            sd.finished_at = t
            return
        sd.status_reason = CIRCUIT_BREAKER_REASON
        self._start_rollback(account, service, deployment, CIRCUIT_BREAKER_REASON, t)

    def _start_rollback(
        self, account: EcsAccount, service: Service, failed: Deployment, reason: str, t: float
    ) -> None:
        """A new deployment back to the last successful revision: its digests, no new revision.
        Tasks that still run that revision are kept, not replaced."""
        target = service.last_completed
        assert target is not None  # callers check
        sd = failed.service_deployment
        rollback_id = self.ids.deployment_id()
        rollback = Deployment(
            id=rollback_id,
            revision=target.revision,
            service_deployment=sd,
            desired_count=service.desired_count,
            created_at=t,
            updated_at=t,
            is_rollback=True,
            rollout_state_reason=(
                f"ECS deployment circuit breaker: rolling back to deploymentId {target.id}."
            ),
        )
        for d in service.deployments:
            d.status = "ACTIVE"
            if d.revision is target.revision:
                for task in d.tasks.values():
                    task.deployment = rollback
                rollback.tasks.update(d.tasks)
                d.tasks.clear()
        service.deployments.insert(0, rollback)
        service.task_definition_arn = target.revision.task_definition_arn
        sd.status = "ROLLBACK_IN_PROGRESS"
        sd.rollback = Rollback(
            reason=reason, started_at=t, service_revision_arn=target.revision.arn
        )
        sd.rollback_deployment = rollback
        sd.updated_at = t
        self._event(service, t, f"(service {service.name}) rolling back to deployment {target.id}.")

    def _complete_if_done(self, service: Service, t: float) -> None:
        primary = service.primary
        if primary is None or primary.rollout_state != "IN_PROGRESS":
            return
        if any(d.tasks for d in service.deployments[1:]):
            return
        tasks = primary.tasks.values()
        if any(not task.is_running for task in tasks) or len(tasks) != service.desired_count:
            return
        primary.rollout_state = "COMPLETED"
        primary.rollout_state_reason = f"ECS deployment {primary.id} completed."
        primary.updated_at = t
        sd = primary.service_deployment
        sd.status = "ROLLBACK_SUCCESSFUL" if primary.is_rollback else "SUCCESSFUL"
        sd.finished_at = t
        sd.updated_at = t
        if sd.circuit_breaker_status == "MONITORING":
            sd.circuit_breaker_status = "MONITORING_COMPLETE"
        service.last_completed = primary
        self._event(
            service, t, f"(service {service.name}) (deployment {primary.id}) deployment completed."
        )
        self._event(service, t, f"(service {service.name}) has reached a steady state.")

    def _drain(self, account: EcsAccount, service: Service, t: float) -> None:
        """DeleteService: every task goes; once they are gone the service is INACTIVE."""
        for d in service.deployments:
            for task in list(d.tasks.values()):
                if not task.is_stopping:
                    self._stop_by_scheduler(account, service, task, t)
        if any(d.tasks for d in service.deployments):
            return
        for d in service.deployments:
            d.status = "INACTIVE"
        service.deployments.clear()
        service.status = "INACTIVE"

    # --- stopping tasks ---------------------------------------------------------------------

    def _stop_by_scheduler(
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
        if not was_running or self._instant:
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
            self._event(
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

    def _event(self, service: Service, t: float, message: str) -> None:
        service.events.appendleft(ServiceEvent(id=self.ids.uuid(), created_at=t, message=message))

    def _is_busy(self, service: Service) -> bool:
        if service.status == "DRAINING":
            return True
        primary = service.primary
        if primary is None:
            return False
        if primary.rollout_state == "IN_PROGRESS":
            return True
        for d in service.deployments:
            for task in d.tasks.values():
                if not task.is_running:
                    return True
        # A completed deployment still short of tasks (failing scale-out) keeps trying.
        return primary.launching and len(primary.tasks) != service.desired_count


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _copy_json(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a small JSON object (faster and simpler than copy.deepcopy)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out[key] = _copy_json(item)
        elif isinstance(item, list):
            out[key] = [_copy_json(i) if isinstance(i, dict) else i for i in item]
        else:
            out[key] = item
    return out
