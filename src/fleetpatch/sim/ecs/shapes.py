"""Model objects -> JSON response shapes, with the member names of the ECS API reference:
clusters, services and their deployments (task_shapes.py: task definitions and tasks).

Members whose value is None are left out, as AWS leaves out members it has no value for.
"""

from __future__ import annotations

import copy
from typing import Any

from fleetpatch.sim.ecs.models import (
    Cluster,
    Deployment,
    HookRun,
    ServiceDeployment,
    ServiceRevision,
)
from fleetpatch.sim.ecs.models import Service as EcsService


def _clean(shape: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in shape.items() if value is not None}


def tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


def cluster(c: Cluster, running: int, pending: int, active_services: int) -> dict[str, Any]:
    return _clean(
        {
            "clusterArn": c.arn,
            "clusterName": c.name,
            "status": c.status,
            "registeredContainerInstancesCount": len(c.active_instances),
            "runningTasksCount": running,
            "pendingTasksCount": pending,
            "activeServicesCount": active_services,
            "statistics": [],
            "settings": c.settings,
            "configuration": c.configuration,
            "capacityProviders": c.capacity_providers,
            "defaultCapacityProviderStrategy": [],
        }
    )


def _platform_family(launch_type: str) -> str | None:
    """The platform family of a Fargate service, task set or revision (Linux here)."""
    return "Linux" if launch_type == "FARGATE" else None


def _resolved_platform_version(launch_type: str, platform_version: str | None) -> str | None:
    """What a Fargate deployment runs: LATEST resolves to 1.4.0 on Linux."""
    if launch_type != "FARGATE":
        return platform_version
    return "1.4.0" if platform_version in (None, "LATEST") else platform_version


def deployment(d: Deployment, launch_type: str, platform_version: str | None) -> dict[str, Any]:
    tasks = d.tasks.values()
    return _clean(
        {
            "id": d.id,
            "status": d.status,
            "taskDefinition": d.task_definition_arn,
            "desiredCount": d.desired_count,
            "pendingCount": sum(1 for t in tasks if t.is_starting),
            "runningCount": sum(1 for t in tasks if t.is_running),
            "failedTasks": d.failed_tasks,
            "createdAt": d.created_at,
            "updatedAt": d.updated_at,
            "launchType": launch_type,
            "platformVersion": _resolved_platform_version(launch_type, platform_version),
            "platformFamily": _platform_family(launch_type),
            "networkConfiguration": d.revision.network_configuration,
            "rolloutState": d.rollout_state,
            "rolloutStateReason": d.rollout_state_reason,
        }
    )


def task_set(s: EcsService, d: Deployment, primary: bool) -> dict[str, Any]:
    """A CODE_DEPLOY service's task set (the simulator runs it as a deployment of its own)."""
    tasks = d.tasks.values()
    running = sum(1 for t in tasks if t.is_running)
    pending = sum(1 for t in tasks if t.is_starting)
    steady = running == d.desired_count and pending == 0
    return _clean(
        {
            "id": d.id,
            "taskSetArn": f"{s.arn.replace(':service/', ':task-set/', 1)}/{d.id}",
            "serviceArn": s.arn,
            "clusterArn": s.cluster_arn,
            # "If an CodeDeploy deployment created the task set, the startedBy parameter is
            # CODE_DEPLOY."
            "startedBy": "CODE_DEPLOY",
            "status": "PRIMARY" if primary else "ACTIVE",
            "taskDefinition": d.task_definition_arn,
            "computedDesiredCount": d.desired_count,
            "pendingCount": pending,
            "runningCount": running,
            "createdAt": d.created_at,
            "updatedAt": d.updated_at,
            "launchType": s.launch_type,
            "platformVersion": _resolved_platform_version(s.launch_type, s.platform_version),
            "platformFamily": _platform_family(s.launch_type),
            "networkConfiguration": d.revision.network_configuration,
            "loadBalancers": s.load_balancers,
            "serviceRegistries": [],
            "scale": {"value": 100.0, "unit": "PERCENT"},
            "stabilityStatus": "STEADY_STATE" if steady else "STABILIZING",
            "stabilityStatusAt": d.updated_at,
        }
    )


def service(s: EcsService, tags: dict[str, str] | None) -> dict[str, Any]:
    tasks = [t for d in s.deployments for t in d.tasks.values()]
    shape = _clean(
        {
            "serviceArn": s.arn,
            "serviceName": s.name,
            "clusterArn": s.cluster_arn,
            "loadBalancers": s.load_balancers,
            "serviceRegistries": [],
            "status": s.status,
            "desiredCount": s.desired_count,
            "runningCount": sum(1 for t in tasks if t.is_running),
            "pendingCount": sum(1 for t in tasks if t.is_starting),
            "launchType": s.launch_type,
            "platformVersion": s.platform_version,
            # None (left out) for an EXTERNAL service: no primary task set gave it one.
            "taskDefinition": s.task_definition_arn,
            "deploymentConfiguration": copy.deepcopy(s.deployment_configuration),
            "events": [
                {"id": e.id, "createdAt": e.created_at, "message": e.message} for e in s.events
            ],
            "createdAt": s.created_at,
            "placementConstraints": [],
            "placementStrategy": [],
            "networkConfiguration": s.network_configuration,
            "schedulingStrategy": s.scheduling_strategy,
            "deploymentController": {"type": s.deployment_controller},
            "enableECSManagedTags": s.enable_ecs_managed_tags,
            "propagateTags": s.propagate_tags,
            "enableExecuteCommand": s.enable_execute_command,
            "roleArn": s.role_arn,
            "healthCheckGracePeriodSeconds": s.health_check_grace_period_seconds,
            "createdBy": s.created_by or None,
            "platformFamily": _platform_family(s.launch_type),
            "availabilityZoneRebalancing": s.availability_zone_rebalancing,
        }
    )
    if s.deployment_controller == "ECS":
        shape.update(_deployments(s))
    else:
        # CODE_DEPLOY and EXTERNAL services run task sets, not deployments, and have no
        # service deployments (those are the ECS controller's).
        shape["taskSets"] = [task_set(s, d, d is s.primary) for d in s.deployments]
        shape["deployments"] = []
    if tags is not None:
        shape["tags"] = tag_list(tags)
    return shape


def _deployments(s: EcsService) -> dict[str, Any]:
    primary = s.primary
    return _clean(
        {
            "deployments": [
                deployment(d, s.launch_type, s.platform_version) for d in s.deployments
            ],
            "currentServiceDeployment": (
                primary.service_deployment.arn if primary is not None else None
            ),
            "currentServiceRevisions": [
                {
                    "arn": d.revision.arn,
                    "requestedTaskCount": (
                        d.desired_count if d is primary or d.kept_until_clean_up else 0
                    ),
                    "runningTaskCount": sum(1 for t in d.tasks.values() if t.is_running),
                    "pendingTaskCount": sum(1 for t in d.tasks.values() if t.is_starting),
                }
                for d in s.deployments
            ],
        }
    )


def _revision_summary(arn: str, d: Deployment | None, requested: int) -> dict[str, Any]:
    tasks = d.tasks.values() if d is not None else ()
    return {
        "arn": arn,
        "requestedTaskCount": requested,
        "runningTaskCount": sum(1 for t in tasks if t.is_running),
        "pendingTaskCount": sum(1 for t in tasks if t.is_starting),
    }


def _source_summaries(sd: ServiceDeployment) -> list[dict[str, Any]]:
    """The source revisions as they were when the deployment started; with a traffic-shifting
    strategy, the first (the last production revision) holds the traffic green does not."""
    summaries: list[dict[str, Any]] = []
    for i, r in enumerate(sd.source_revisions):
        summary: dict[str, Any] = {
            "arn": r.arn,
            "requestedTaskCount": r.requested,
            "runningTaskCount": r.running,
            "pendingTaskCount": r.pending,
        }
        if sd.steps:
            summary["requestedProductionTrafficWeight"] = (
                100.0 - sd.production_weight if i == 0 else 0.0
            )
            summary["requestedTestTrafficWeight"] = 100.0 - sd.test_weight if i == 0 else 0.0
        summaries.append(summary)
    return summaries


def _hook_detail(run: HookRun) -> dict[str, Any]:
    return _clean(
        {
            "hookId": run.hook_id,
            "targetType": run.target_type,
            "targetArn": run.target_arn,
            "status": run.status,
            "expiresAt": run.expires_at,
            "timeoutAction": run.timeout_action,
        }
    )


def service_deployment(sd: ServiceDeployment) -> dict[str, Any]:
    d = sd.deployment
    requested = d.desired_count if d is not None else 0
    target = _revision_summary(sd.target_revision.arn, d, requested)
    if sd.steps:
        target["requestedProductionTrafficWeight"] = sd.production_weight
        target["requestedTestTrafficWeight"] = sd.test_weight
    shape = _clean(
        {
            "serviceDeploymentArn": sd.arn,
            "serviceArn": sd.service_arn,
            "clusterArn": sd.cluster_arn,
            "createdAt": sd.created_at,
            "startedAt": sd.started_at,
            "finishedAt": sd.finished_at,
            "stoppedAt": sd.stopped_at,
            "updatedAt": sd.updated_at,
            "sourceServiceRevisions": _source_summaries(sd),
            "targetServiceRevision": target,
            "status": sd.status,
            "statusReason": sd.status_reason,
            "lifecycleStage": sd.lifecycle_stage,
            "lifecycleHookDetails": (
                [_hook_detail(run) for run in sd.hook_runs] if sd.hook_runs else None
            ),
            "deploymentConfiguration": copy.deepcopy(sd.deployment_configuration),
            "deploymentCircuitBreaker": {
                "status": sd.circuit_breaker_status,
                "failureCount": sd.failure_count,
                "threshold": sd.threshold,
            },
            "alarms": {"status": "DISABLED", "alarmNames": [], "triggeredAlarmNames": []},
        }
    )
    if sd.rollback is not None:
        shape["rollback"] = {
            "reason": sd.rollback.reason,
            "startedAt": sd.rollback.started_at,
            "serviceRevisionArn": sd.rollback.service_revision_arn,
        }
    return shape


def service_deployment_brief(sd: ServiceDeployment) -> dict[str, Any]:
    return _clean(
        {
            "serviceDeploymentArn": sd.arn,
            "serviceArn": sd.service_arn,
            "clusterArn": sd.cluster_arn,
            "startedAt": sd.started_at,
            "createdAt": sd.created_at,
            "finishedAt": sd.finished_at,
            "targetServiceRevisionArn": sd.target_revision.arn,
            "status": sd.status,
            "statusReason": sd.status_reason,
        }
    )


def service_revision(r: ServiceRevision) -> dict[str, Any]:
    return _clean(
        {
            "serviceRevisionArn": r.arn,
            "serviceArn": r.service_arn,
            "clusterArn": r.cluster_arn,
            "taskDefinition": r.task_definition_arn,
            "launchType": r.launch_type,
            "platformVersion": _resolved_platform_version(r.launch_type, r.platform_version),
            "platformFamily": _platform_family(r.launch_type),
            "loadBalancers": [],
            "serviceRegistries": [],
            "networkConfiguration": r.network_configuration,
            "containerImages": [
                _clean({"containerName": ci.name, "imageDigest": ci.digest, "image": ci.image})
                for ci in r.container_images
            ],
            "guardDutyEnabled": False,
            "serviceConnectConfiguration": {"enabled": False},
            "createdAt": r.created_at,
        }
    )
