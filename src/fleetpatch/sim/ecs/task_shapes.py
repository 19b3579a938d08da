"""Task definitions and tasks -> JSON response shapes, with what real ECS always returns.

ECS answers a registered task definition with the defaults it filled in (the empty lists of
a container definition, `cpu: 0`, `essential: true`, `volumes: []` ...), the attributes a
container instance needs to run it and the launch types it is compatible with; and a task
with its placement (availability zone, platform on Fargate), its attributes and the times of
its image pulls. The AWS CLI reference's response examples (tests/sim/fixtures/ecs/) show
these members on every answer; members whose value is None are left out, as AWS does.
"""

from __future__ import annotations

import copy
from typing import Any

from fleetpatch.sim.ecs.models import Container, Task, TaskDefinition

# Defaults ECS fills into every container definition it returns.
_CONTAINER_DEFAULTS: dict[str, Any] = {
    "cpu": 0,
    "portMappings": [],
    "essential": True,
    "environment": [],
    "mountPoints": [],
    "volumesFrom": [],
}
# ...and into the task definition itself.
_TASK_DEFINITION_DEFAULTS: dict[str, Any] = {"volumes": [], "placementConstraints": []}
# Fargate gives every task 20 GiB of ephemeral storage unless the definition asks for more.
_FARGATE_EPHEMERAL_GIB = 20


def _clean(shape: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in shape.items() if value is not None}


def _requires_attributes(body: dict[str, Any]) -> list[dict[str, str]]:
    """The container instance attributes a task of this definition needs (a subset of what
    ECS derives: ECR pulls, awsvpc, FireLens)."""
    names: list[str] = []
    containers = body.get("containerDefinitions") or []
    if any(".dkr.ecr." in str(cd.get("image", "")) for cd in containers):
        names.append("com.amazonaws.ecs.capability.ecr-auth")
    if body.get("networkMode") == "awsvpc":
        names.append("ecs.capability.task-eni")
    for cd in containers:
        firelens = (cd.get("firelensConfiguration") or {}).get("type")
        if firelens:
            names.append(f"ecs.capability.firelens.{firelens}")
            names.append("com.amazonaws.ecs.capability.logging-driver.awsfirelens")
    return [{"name": name} for name in dict.fromkeys(names)]


def _compatibilities(body: dict[str, Any]) -> list[str]:
    """Launch types the definition can run on: EC2 always; EXTERNAL unless awsvpc; FARGATE
    when awsvpc with task-level cpu and memory (what Fargate requires)."""
    kinds = {"EC2", *(body.get("requiresCompatibilities") or [])}
    mode = body.get("networkMode") or "bridge"
    if mode != "awsvpc":
        kinds.add("EXTERNAL")
    elif body.get("cpu") and body.get("memory"):
        kinds.add("FARGATE")
    return sorted(kinds)


def task_definition(td: TaskDefinition) -> dict[str, Any]:
    # A deep copy: the caller may serialize or change the answer; our record stays as given.
    given: dict[str, Any] = copy.deepcopy(td.body)
    shape: dict[str, Any] = {**copy.deepcopy(_TASK_DEFINITION_DEFAULTS), **given}
    shape["containerDefinitions"] = [
        {**copy.deepcopy(_CONTAINER_DEFAULTS), **cd} for cd in given.get("containerDefinitions", [])
    ]
    shape.update(
        {
            "taskDefinitionArn": td.arn,
            "family": td.family,
            "revision": td.revision,
            "status": td.status,
            "requiresAttributes": _requires_attributes(given),
            "compatibilities": _compatibilities(given),
            "registeredAt": td.registered_at,
            "registeredBy": td.registered_by or None,
        }
    )
    if td.deregistered_at is not None:
        shape["deregisteredAt"] = td.deregistered_at
    return _clean(shape)


def _task_status(t: Task, now: float, start_seconds: float) -> str:
    """A starting task shows PROVISIONING for its first third, then PENDING."""
    if t.is_starting:
        return "PROVISIONING" if now < _pull_started_at(t, start_seconds) else "PENDING"
    return t.last_status


def _pull_started_at(t: Task, start_seconds: float) -> float:
    return t.created_at + start_seconds / 3


def _container(c: Container, t: Task) -> dict[str, Any]:
    return _clean(
        {
            "containerArn": c.arn,
            "taskArn": t.arn,
            "name": c.name,
            "image": c.image,
            "imageDigest": c.digest,
            "runtimeId": c.runtime_id,
            "lastStatus": c.last_status,
            "exitCode": c.exit_code,
            "reason": c.reason,
            "networkBindings": [],
            "networkInterfaces": [],
            "healthStatus": "UNKNOWN",
            "cpu": c.cpu,
            "memory": c.memory,
            "memoryReservation": c.memory_reservation,
        }
    )


def _pull_times(t: Task, now: float, start_seconds: float) -> dict[str, float | None]:
    """ECS pulls the images after provisioning; a task that started finished pulling."""
    started = _pull_started_at(t, start_seconds)
    if now < started and t.started_at is None:
        return {"pullStartedAt": None, "pullStoppedAt": None}
    if t.started_at is not None:
        return {"pullStartedAt": min(started, t.started_at), "pullStoppedAt": t.started_at}
    return {"pullStartedAt": started, "pullStoppedAt": t.stopping_at}


def task(t: Task, now: float, start_seconds: float, tags: dict[str, str] | None) -> dict[str, Any]:
    fargate = t.launch_type == "FARGATE"
    shape = _clean(
        {
            "taskArn": t.arn,
            "clusterArn": t.cluster_arn,
            "taskDefinitionArn": t.task_definition_arn,
            "containerInstanceArn": t.container_instance_arn,
            "group": f"service:{t.service_name}",
            "startedBy": t.started_by,
            "lastStatus": _task_status(t, now, start_seconds),
            "desiredStatus": t.desired_status,
            "launchType": t.launch_type,
            "availabilityZone": t.availability_zone or None,
            "platformVersion": t.platform_version,
            "platformFamily": t.platform_family,
            "attributes": [{"name": "ecs.cpu-architecture", "value": t.cpu_architecture}],
            "cpu": t.cpu,
            "memory": t.memory,
            "createdAt": t.created_at,
            "connectivity": "CONNECTED",
            "connectivityAt": t.created_at,
            **_pull_times(t, now, start_seconds),
            "startedAt": t.started_at,
            "stoppingAt": t.stopping_at,
            "stoppedAt": t.stopped_at,
            "stoppedReason": t.stopped_reason,
            "stopCode": t.stop_code,
            "executionStoppedAt": t.stopped_at,
            "healthStatus": "UNKNOWN",
            "version": t.version,
            "enableExecuteCommand": t.enable_execute_command,
            "containers": [_container(c, t) for c in t.containers],
            "attachments": [],
            "overrides": {
                "containerOverrides": [{"name": c.name} for c in t.containers],
                "inferenceAcceleratorOverrides": [],
            },
            "ephemeralStorage": {"sizeInGiB": _FARGATE_EPHEMERAL_GIB} if fargate else None,
        }
    )
    if tags is not None:
        shape["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    return shape
