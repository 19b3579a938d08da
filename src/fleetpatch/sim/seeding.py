"""The ECS requests that seed a scenario's services: RegisterTaskDefinition and CreateService
bodies built from the scenario's keys, as a user's deployment tooling would send them."""

from __future__ import annotations

from typing import Any

from fleetpatch.sim import scenario as sc

NETWORK_CONFIGURATION: dict[str, Any] = {
    "awsvpcConfiguration": {
        "subnets": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
        "securityGroups": ["sg-0a1b2c3d4e5f60001"],
        "assignPublicIp": "DISABLED",
    }
}


def launch_type(svc: sc.Service) -> str:
    """FARGATE unless given; a DAEMON service runs on EC2 (ECS runs no DAEMON on Fargate)."""
    if svc.launch_type is not None:
        return svc.launch_type
    return "EC2" if svc.scheduling_strategy == "DAEMON" else "FARGATE"


def task_definition_request(
    env: sc.Environment, cluster: sc.Cluster, svc: sc.Service
) -> dict[str, Any]:
    values = {
        "registry": env.registry,
        "account": env.account,
        "region": env.region,
        "service": svc.name,
    }
    definitions = []
    for container in svc.containers or cluster.containers:
        definition: dict[str, Any] = {
            "name": container.name,
            "image": container.image.format(**values),
            "essential": container.essential,
            "memoryReservation": 50 if container.firelens else 256,
        }
        if container.firelens:
            definition["firelensConfiguration"] = {"type": container.firelens}
        if container.version_consistency:
            definition["versionConsistency"] = container.version_consistency
        definitions.append(definition)
    return {
        "family": svc.name,
        "containerDefinitions": definitions,
        "requiresCompatibilities": [launch_type(svc)],
        "networkMode": "awsvpc",
        "cpu": "512",
        "memory": "1024",
        "runtimePlatform": {
            "cpuArchitecture": svc.cpu_architecture,
            "operatingSystemFamily": "LINUX",
        },
    }


def create_service_request(
    cluster: sc.Cluster, svc: sc.Service, task_definition_arn: str | None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "cluster": cluster.name,
        "serviceName": svc.name,
        "launchType": launch_type(svc),
        "deploymentConfiguration": svc.deployment_configuration(),
    }
    if task_definition_arn is not None:
        request["taskDefinition"] = task_definition_arn
        # The seeded task definitions use awsvpc, for which ECS requires the subnets.
        request["networkConfiguration"] = NETWORK_CONFIGURATION
    # ECS refuses a desired count for a DAEMON service: it counts the container instances.
    if svc.scheduling_strategy != "DAEMON":
        request["desiredCount"] = svc.desired_count
    if svc.scheduling_strategy != "REPLICA":
        request["schedulingStrategy"] = svc.scheduling_strategy
    if svc.deployment_controller != "ECS":
        request["deploymentController"] = {"type": svc.deployment_controller}
    return request
