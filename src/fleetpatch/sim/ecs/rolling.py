"""The ROLLING strategy: one pass of what the ECS service scheduler does for a rolling update.

Stop surplus tasks, stop old tasks as far as minimumHealthyPercent allows, launch new tasks as
far as maximumPercent allows, and declare the deployment COMPLETED once only the new tasks run.
Rollbacks of every strategy also run this way (they return to tasks that mostly still run).
"""

from __future__ import annotations

import math

from fleetpatch.sim.ecs.models import Deployment, EcsAccount, Service
from fleetpatch.sim.ecs.tasks import TaskRunner


def reconcile(runner: TaskRunner, account: EcsAccount, service: Service, t: float) -> None:
    """One pass of the rolling service scheduler at time `t`."""
    primary = service.primary
    if primary is None or service.status == "INACTIVE":
        return
    if service.status == "DRAINING":
        drain(runner, account, service, t)
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
            runner.stop_by_scheduler(account, service, task, t)

    # Old tasks are replaced only while the new deployment is still going somewhere.
    if primary.launching:
        old_live = [
            task for d in old_deployments for task in d.tasks.values() if not task.is_stopping
        ]
        # Old tasks that never became healthy serve nobody: they go at once.
        for task in old_live:
            if task.is_starting:
                runner.stop_by_scheduler(account, service, task, t)
        old_running = sorted(
            (task for task in old_live if task.is_running), key=lambda task: task.created_at
        )
        running_total = len(old_running) + sum(
            1 for task in primary.tasks.values() if task.is_running
        )
        stop_allowance = max(0, running_total - min_healthy)
        for task in old_running[:stop_allowance]:
            runner.stop_by_scheduler(account, service, task, t)

    if primary.launching and t >= primary.next_launch_at:
        _launch_for(runner, account, service, primary, desired, max_total, t)

    complete_if_done(runner, service, t)
    for d in old_deployments:
        # An old deployment is being scaled down to nothing: it wants what it still has.
        d.desired_count = sum(1 for task in d.tasks.values() if not task.is_stopping)
    drop_emptied_deployments(service, t)


def drop_emptied_deployments(service: Service, t: float) -> None:
    """Old deployments whose last task is gone become INACTIVE and leave `deployments[]`."""
    for d in service.deployments[1:]:
        if not d.tasks:
            d.status = "INACTIVE"
            d.updated_at = t
            service.deployments.remove(d)


def _launch_for(
    runner: TaskRunner,
    account: EcsAccount,
    service: Service,
    primary: Deployment,
    desired: int,
    max_total: int,
    t: float,
) -> None:
    live = [task for d in service.deployments for task in d.tasks.values() if not task.is_stopping]
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
    started = [runner.launch_task(account, service, primary, t) for _ in range(count)]
    ids = " ".join(f"(task {task.id})" for task in started)
    runner.event(service, t, f"(service {service.name}) has started {count} tasks: {ids}.")


def complete_if_done(runner: TaskRunner, service: Service, t: float) -> None:
    primary = service.primary
    if primary is None or primary.rollout_state != "IN_PROGRESS":
        return
    if any(d.tasks for d in service.deployments[1:]):
        return
    tasks = primary.tasks.values()
    if any(not task.is_running for task in tasks) or len(tasks) != service.desired_count:
        return
    complete(runner, service, primary, t)


def complete(runner: TaskRunner, service: Service, primary: Deployment, t: float) -> None:
    """The deployment reached its goal: COMPLETED, and what a later rollback returns to."""
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
    runner.event(
        service, t, f"(service {service.name}) (deployment {primary.id}) deployment completed."
    )
    runner.event(service, t, f"(service {service.name}) has reached a steady state.")


def drain(runner: TaskRunner, account: EcsAccount, service: Service, t: float) -> None:
    """DeleteService: every task goes; once they are gone the service is INACTIVE."""
    for d in service.deployments:
        for task in list(d.tasks.values()):
            if not task.is_stopping:
                runner.stop_by_scheduler(account, service, task, t)
    if any(d.tasks for d in service.deployments):
        return
    for d in service.deployments:
        d.status = "INACTIVE"
    service.deployments.clear()
    service.status = "INACTIVE"
