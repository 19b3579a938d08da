"""Failures and rollbacks, the same for every strategy: the deployment circuit breaker counts
the target revision's tasks that fail to start, and a rollback is a new deployment back to the
last successful revision (its digests, no new revision) inside the same ServiceDeployment.
"""

from __future__ import annotations

from fleetpatch.sim.ecs.models import Deployment, EcsAccount, Rollback, Service, Task
from fleetpatch.sim.ecs.tasks import TaskRunner

CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."

# ECS throttles launches for a service whose tasks keep failing. After this many failed tasks
# in a deployment, each further launch waits longer, up to the cap; this also bounds how much
# work a deployment that fails forever costs when the clock jumps ahead by days.
THROTTLE_AFTER_FAILURES = 10
THROTTLE_BASE_SECONDS = 15.0
THROTTLE_MAX_SECONDS = 900.0


def on_task_failed(
    runner: TaskRunner, account: EcsAccount, service: Service, task: Task, t: float
) -> None:
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
            runner.event(
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
    trip_circuit_breaker(runner, account, service, deployment, t)


def trip_circuit_breaker(
    runner: TaskRunner, account: EcsAccount, service: Service, deployment: Deployment, t: float
) -> None:
    sd = deployment.service_deployment
    deployment.rollout_state = "FAILED"
    deployment.rollout_state_reason = CIRCUIT_BREAKER_REASON
    deployment.launching = False
    deployment.updated_at = t
    sd.circuit_breaker_status = "TRIGGERED"
    sd.updated_at = t
    runner.event(
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
    start_rollback(runner, account, service, deployment, CIRCUIT_BREAKER_REASON, t)


def start_rollback(
    runner: TaskRunner,
    account: EcsAccount,
    service: Service,
    failed: Deployment,
    reason: str,
    t: float,
) -> None:
    """A new deployment back to the last successful revision: its digests, no new revision.
    Tasks that still run that revision are kept, not replaced."""
    target = service.last_completed
    assert target is not None  # callers check
    sd = failed.service_deployment
    rollback_id = runner.ids.deployment_id()
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
        d.kept_until_clean_up = False
        if d.revision is target.revision:
            for task in d.tasks.values():
                task.deployment = rollback
            rollback.tasks.update(d.tasks)
            d.tasks.clear()
    # Traffic goes back to the blue revision at once (its tasks are adopted above).
    sd.production_weight = 0.0
    sd.test_weight = 0.0
    service.deployments.insert(0, rollback)
    service.task_definition_arn = target.revision.task_definition_arn
    sd.status = "ROLLBACK_IN_PROGRESS"
    sd.rollback = Rollback(reason=reason, started_at=t, service_revision_arn=target.revision.arn)
    sd.rollback_deployment = rollback
    sd.updated_at = t
    runner.event(service, t, f"(service {service.name}) rolling back to deployment {target.id}.")


# --- small helpers ----------------------------------------------------------------------


def fail_and_roll_back(
    runner: TaskRunner,
    account: EcsAccount,
    service: Service,
    failed: Deployment,
    reason: str,
    t: float,
) -> None:
    """The deployment failed for `reason` (a lifecycle hook): roll back, or ROLLBACK_FAILED when
    no revision ever succeeded."""
    sd = failed.service_deployment
    failed.launching = False
    failed.rollout_state = "FAILED"
    failed.rollout_state_reason = reason
    failed.updated_at = t
    sd.status_reason = reason
    sd.updated_at = t
    if service.last_completed is None:
        sd.status = "ROLLBACK_FAILED"
        sd.status_reason = "There is no successful service revision to roll back to."
        sd.finished_at = t
        return
    start_rollback(runner, account, service, failed, reason, t)
