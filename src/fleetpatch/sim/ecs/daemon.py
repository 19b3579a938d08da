"""The DAEMON scheduling strategy: one task on each active container instance of the cluster.

ECS API reference (CreateService, schedulingStrategy): "The daemon scheduling strategy deploys
exactly one task on each active container instance that meets all of the task placement
constraints that you specify in your cluster." The desired count is the number of such
instances. A deployment replaces the task of each instance: maximumPercent is at most 100, so
an instance's old task stops before its new one starts, and minimumHealthyPercent (default 0)
says how many old tasks may be stopped at once. Rollbacks of a DAEMON service run this way too.

The simulator evaluates no placement constraints: every active instance qualifies.
"""

from __future__ import annotations

import math

from fleetpatch.sim.ecs import rolling
from fleetpatch.sim.ecs.models import EcsAccount, Service, Task
from fleetpatch.sim.ecs.tasks import TaskRunner


def reconcile(runner: TaskRunner, account: EcsAccount, service: Service, t: float) -> None:
    """One pass of the daemon service scheduler at time `t`."""
    primary = service.primary
    if primary is None or service.status == "INACTIVE":
        return
    if service.status == "DRAINING":
        rolling.drain(runner, account, service, t)
        return
    instances = [ci.arn for ci in account.clusters[service.cluster_name].active_instances]
    service.desired_count = primary.desired_count = len(instances)
    live = [task for d in service.deployments for task in d.tasks.values() if not task.is_stopping]

    # A task whose instance is gone (or that has none) is not where a daemon task belongs.
    for task in live:
        if task.container_instance_arn not in instances:
            runner.stop_by_scheduler(account, service, task, t)
    live = [task for task in live if task.container_instance_arn in instances]

    if primary.launching:
        _stop_old_tasks(runner, account, service, live, t)

    occupied = {
        task.container_instance_arn
        for d in service.deployments
        for task in d.tasks.values()
        if task.container_instance_arn is not None
    }
    free = [arn for arn in instances if arn not in occupied]
    if primary.launching and t >= primary.next_launch_at and free:
        started = [
            runner.launch_task(account, service, primary, t, container_instance_arn=arn)
            for arn in free
        ]
        ids = " ".join(f"(task {task.id})" for task in started)
        runner.event(
            service, t, f"(service {service.name}) has started {len(started)} tasks: {ids}."
        )

    rolling.complete_if_done(runner, service, t)
    for d in service.deployments[1:]:
        d.desired_count = sum(1 for task in d.tasks.values() if not task.is_stopping)
    rolling.drop_emptied_deployments(service, t)


def _stop_old_tasks(
    runner: TaskRunner, account: EcsAccount, service: Service, live: list[Task], t: float
) -> None:
    """Stop old deployments' tasks as far as minimumHealthyPercent allows, oldest first."""
    primary = service.primary
    old = [task for task in live if task.deployment is not primary]
    # Old tasks that never became healthy serve nobody: they go at once.
    for task in old:
        if task.is_starting:
            runner.stop_by_scheduler(account, service, task, t)
    old_running = sorted((task for task in old if task.is_running), key=lambda x: x.created_at)
    if not old_running:
        return
    percent = int(service.deployment_configuration.get("minimumHealthyPercent", 0))
    min_healthy = math.ceil(service.desired_count * percent / 100)
    running = sum(1 for task in live if task.is_running)
    allowance = max(0, running - min_healthy)
    in_flight = any(
        task.is_starting or task.is_stopping
        for d in service.deployments
        for task in d.tasks.values()
    )
    if allowance == 0 and not in_flight and len(live) >= service.desired_count:
        # minimumHealthyPercent 100 with one task per instance and no free instance leaves no
        # room: let one instance through rather than hang forever (as rolling.py does).
        allowance = 1
    for task in old_running[:allowance]:
        runner.stop_by_scheduler(account, service, task, t)
