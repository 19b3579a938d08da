"""The deployment engine: it starts deployments, stops them, and moves services through
simulated time.

Nothing runs in the background. A call that reads a service first `advance`s it to the clock's
now: every task start, task stop, launch and state change up to then is computed in time order,
with the timestamps it would have had. Only services with something in flight are ever advanced
(the account's `busy_services`), so a fleet of idle services costs nothing.

Each step (`reconcile`) hands the service to its deployment's strategy: rolling.py for ROLLING
(and for every rollback), strategies.py for BLUE_GREEN, LINEAR and CANARY, daemon.py for every
deployment of a DAEMON service. Task starts and
stops are tasks.py's; the circuit breaker and rollbacks are here, shared by every strategy.
"""

from __future__ import annotations

import math
from typing import Any

from fleetpatch.sim.ecs import daemon, rollbacks, rolling, strategies
from fleetpatch.sim.ecs.ids import IdGenerator
from fleetpatch.sim.ecs.lookups import invalid
from fleetpatch.sim.ecs.models import (
    ContainerImage,
    Deployment,
    EcsAccount,
    RevisionSummary,
    Service,
    ServiceDeployment,
    ServiceRevision,
    Task,
    TaskDefinition,
    split_image,
)
from fleetpatch.sim.ecs.tasks import TaskRunner
from fleetpatch.sim.ecs.validation import TRAFFIC_SHIFT_STRATEGIES
from fleetpatch.sim.protocol import AwsError, FailureRules, ImageLookup

# A safety net for `advance`: far more steps than any real rollout takes between two calls.
MAX_STEPS_PER_ADVANCE = 20_000


def circuit_breaker_threshold(desired_count: int) -> int:
    """0.5 x desired count, at least 3, at most 200 (ECS developer guide)."""
    return min(200, max(3, math.ceil(0.5 * desired_count)))


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
        self.ids = ids
        self.tasks = TaskRunner(
            images, failures, ids, task_start_seconds, task_stop_seconds, self._on_task_failed
        )

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
        # The circuit breaker is the ECS controller's (CodeDeploy has its own rollbacks).
        breaker_on = bool(breaker.get("enable")) and service.deployment_controller == "ECS"
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
        sd.strategy = str(sd.deployment_configuration.get("strategy") or "ROLLING")
        if sd.strategy in TRAFFIC_SHIFT_STRATEGIES:
            several = sum(1 for d in service.deployments if d.tasks) > 1
            sd.steps = strategies.plan(sd.deployment_configuration, several)
        for old in service.deployments:
            # Blue/green keeps the old revisions at full size until its CLEAN_UP stage.
            old.kept_until_clean_up = sd.strategy in TRAFFIC_SHIFT_STRATEGIES
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
        rollbacks.start_rollback(
            self.tasks, account, service, deployment, "Stopped by user request.", now
        )
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
            self.tasks.process_due(account, service, t)
            service.advanced_to = t
            self.reconcile(account, service, t)
        service.advanced_to = max(service.advanced_to, now)
        self.update_busy(account, service)

    def settle(self, account: EcsAccount, service: Service, now: float) -> None:
        """Finish what is in flight as if enough time had passed, stamping everything `now`."""
        self.advance(account, service, now)
        self.tasks.instant = True
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
            self.tasks.instant = False

    def update_busy(self, account: EcsAccount, service: Service) -> None:
        if self._is_busy(service):
            account.busy_services[service.arn] = service
        else:
            account.busy_services.pop(service.arn, None)

    def reconcile(self, account: EcsAccount, service: Service, t: float) -> None:
        """One pass of the service scheduler at time `t`, by the primary deployment's strategy.
        Rollbacks and deletions run the rolling way."""
        primary = service.primary
        if primary is None and service.status == "DRAINING":
            # Nothing ever ran (an EXTERNAL service without task sets): gone at once.
            service.status = "INACTIVE"
        if primary is None or service.status == "INACTIVE":
            return
        strategy = primary.service_deployment.strategy
        if service.scheduling_strategy == "DAEMON":
            daemon.reconcile(self.tasks, account, service, t)
            return
        if service.status == "DRAINING" or primary.is_rollback or strategy == "ROLLING":
            rolling.reconcile(self.tasks, account, service, t)
            return
        strategies.reconcile(self.tasks, account, service, t, self._fail_and_roll_back)
        if service.primary is not primary:
            # A lifecycle hook rolled it back: the rollback starts in this same pass.
            rolling.reconcile(self.tasks, account, service, t)

    def continue_service_deployment(
        self,
        account: EcsAccount,
        service: Service,
        sd: ServiceDeployment,
        hook_id: str,
        action: str,
        now: float,
    ) -> None:
        """ContinueServiceDeployment: answer a PAUSE hook that awaits action."""
        deployment = sd.deployment
        if sd.status != "IN_PROGRESS" or deployment is None or deployment is not service.primary:
            raise AwsError(
                "ConflictException",
                f"The service deployment {sd.arn} is in status {sd.status} and is not paused.",
            )
        run = strategies.answer_hook(sd, hook_id, action)
        if run is None:
            raise invalid(f"The lifecycle hook {hook_id} is not awaiting action.")
        sd.updated_at = now
        if action == "ROLLBACK":
            self._fail_and_roll_back(
                account, service, deployment, "Rolled back by ContinueServiceDeployment.", now
            )
        self.reconcile(account, service, now)
        self.update_busy(account, service)

    def _fail_and_roll_back(
        self, account: EcsAccount, service: Service, failed: Deployment, reason: str, t: float
    ) -> None:
        rollbacks.fail_and_roll_back(self.tasks, account, service, failed, reason, t)

    def stop_task(
        self, account: EcsAccount, service: Service, task: Task, t: float, code: str, reason: str
    ) -> None:
        self.tasks.stop_task(account, service, task, t, code, reason)

    def _on_task_failed(self, account: EcsAccount, service: Service, task: Task, t: float) -> None:
        rollbacks.on_task_failed(self.tasks, account, service, task, t)

    def _next_event_time(self, service: Service) -> float | None:
        times: list[float] = []
        task_time = self.tasks.next_event_time(service)
        if task_time is not None:
            times.append(task_time)
        primary = service.primary
        if primary and primary.launching and primary.next_launch_at > service.advanced_to:
            times.append(primary.next_launch_at)
        stage_time = strategies.next_event_time(service)
        if stage_time is not None:
            times.append(stage_time)
        return min(times) if times else None

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
