"""The simulator, driven through boto3 over real HTTP, as fleetpatch drives AWS."""

from __future__ import annotations

import hashlib
from typing import Any

import botocore.config
import pytest
from botocore.exceptions import ClientError

from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario


def sidecar_digests(ecs: Any, cluster: str = "main", service: str = "api") -> list[str]:
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    return sorted(
        container["imageDigest"]
        for task in tasks
        for container in task["containers"]
        if container["name"] == "log_router"
    )


def digest_of(ecr: Any, tag: str) -> str:
    images = ecr.describe_images(repositoryName="fluent-bit", imageIds=[{"imageTag": tag}])
    return str(images["imageDetails"][0]["imageDigest"])


def primary(ecs: Any, service: str = "api") -> dict[str, Any]:
    described = ecs.describe_services(cluster="main", services=[service])["services"][0]
    return next(d for d in described["deployments"] if d["status"] == "PRIMARY")


def test_tag_is_resolved_when_the_deployment_started(aws: Any) -> None:
    ecs, ecr = aws("ecs"), aws("ecr")
    # Deployed on 2026-11-10, when latest was 1.0; latest moved to 1.1 on 2026-11-25.
    assert sidecar_digests(ecs) == [digest_of(ecr, "1.0-aaaaaaa")] * 2
    arns = ecs.list_tasks(cluster="main", serviceName="api")["taskArns"]
    task = ecs.describe_tasks(cluster="main", tasks=arns)["tasks"][0]
    names = {c["name"]: c for c in task["containers"]}
    assert set(names) == {"app", "log_router"}, "every container of the task is reported"
    assert names["log_router"]["image"].endswith("/fluent-bit:latest")


def test_moving_the_tag_does_not_change_running_tasks(sim: Simulator, aws: Any) -> None:
    ecs, ecr = aws("ecs"), aws("ecr")
    before = sidecar_digests(ecs)
    sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"]})
    sim.advance(3600)
    assert sidecar_digests(ecs) == before
    assert digest_of(ecr, "latest") not in before


def test_forced_deployment_completes_on_the_new_digest(sim: Simulator, aws: Any) -> None:
    ecs, ecr = aws("ecs"), aws("ecr")
    target = digest_of(ecr, "latest")
    ecs.update_service(cluster="main", service="api", forceNewDeployment=True)
    assert primary(ecs)["rolloutState"] == "IN_PROGRESS"

    sim.advance(600)

    assert primary(ecs)["rolloutState"] == "COMPLETED"
    assert sidecar_digests(ecs) == [target, target]
    deployments = ecs.list_service_deployments(cluster="main", service="api")
    newest = deployments["serviceDeployments"][0]
    assert newest["status"] == "SUCCESSFUL"
    revision_arn = newest["targetServiceRevisionArn"]
    revision = ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])
    images = {
        i["containerName"]: i["imageDigest"]
        for i in revision["serviceRevisions"][0]["containerImages"]
    }
    assert images["log_router"] == target
    events = ecs.describe_services(cluster="main", services=["api"])["services"][0]["events"]
    assert any("steady state" in event["message"] for event in events)


def test_a_failing_digest_trips_the_circuit_breaker_and_rolls_back(
    sim: Simulator, aws: Any
) -> None:
    ecs = aws("ecs")
    before = sidecar_digests(ecs)
    sim.push_image(
        "dev", "fluent-bit", {"tags": ["1.2-bad0bad", "latest"], "fails": "exit code 139"}
    )
    ecs.update_service(cluster="main", service="api", forceNewDeployment=True)

    sim.advance(1800)

    listed = ecs.list_service_deployments(cluster="main", service="api")["serviceDeployments"]
    described = ecs.describe_service_deployments(
        serviceDeploymentArns=[listed[0]["serviceDeploymentArn"]]
    )["serviceDeployments"][0]
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    assert described["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert sidecar_digests(ecs) == before, "the rollback returned to the old digest"
    stopped = ecs.list_tasks(cluster="main", serviceName="api", desiredStatus="STOPPED")
    tasks = ecs.describe_tasks(cluster="main", tasks=stopped["taskArns"][:100])["tasks"]
    failed = [t for t in tasks if t.get("stopCode") == "EssentialContainerExited"]
    assert failed, "the failed tasks are reported as ECS reports them"
    assert failed[0]["stoppedReason"] == "Essential container in task exited"
    sidecar = next(c for c in failed[0]["containers"] if c["name"] == "log_router")
    assert sidecar["reason"] == "exit code 139" and sidecar["exitCode"] == 1


def test_injected_throttling_surfaces_as_a_client_error(sim: Simulator) -> None:
    sim.set_faults(throttle_rate=1.0)
    # botocore would retry for us; one attempt shows what the simulator answered.
    no_retry = botocore.config.Config(retries={"mode": "standard", "max_attempts": 1})
    ecs = client(sim, "ecs", "dev", config=no_retry)
    with pytest.raises(ClientError) as raised:
        ecs.list_clusters()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


def test_digest_is_the_sha256_of_the_manifest_and_moved_tags_leave_images(aws: Any) -> None:
    ecr = aws("ecr")
    got = ecr.batch_get_image(repositoryName="fluent-bit", imageIds=[{"imageTag": "latest"}])
    image = got["images"][0]
    manifest = image["imageManifest"]
    assert (
        image["imageId"]["imageDigest"] == "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    )

    ecr.put_image(
        repositoryName="fluent-bit", imageManifest=manifest.replace("2", "3"), imageTag="latest"
    )
    details = ecr.describe_images(repositoryName="fluent-bit")["imageDetails"]
    left = [d for d in details if d["imageDigest"] == image["imageId"]["imageDigest"]]
    assert left and left[0]["imageTags"] == ["1.1-bbbbbbb"], "the old image stays, minus latest"


def test_untagged_digest_expired_by_lifecycle_fails_the_next_task() -> None:
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    scenario = small_scenario()
    repository = scenario["environments"][0]["repositories"][0]
    repository["lifecycle_policy"] = policy
    # 1.0 carries only `latest`: once latest moves, the running digest is untagged.
    repository["images"][0]["tags"] = ["latest"]
    with Simulator(scenario) as sim:
        ecs, ecr = client(sim, "ecs", "dev"), client(sim, "ecr", "dev")
        running = sidecar_digests(ecs)[0]
        expired = sim.run_lifecycle_policies()
        assert [item[3] for item in expired] == [running]

        ecs.update_service(cluster="main", service="api", desiredCount=3)
        sim.advance(120)

        stopped = ecs.list_tasks(cluster="main", serviceName="api", desiredStatus="STOPPED")
        tasks = ecs.describe_tasks(cluster="main", tasks=stopped["taskArns"])["tasks"]
        assert any("CannotPullContainerError" in t.get("stoppedReason", "") for t in tasks)
        assert all(
            d["imageDigest"] != running
            for d in ecr.describe_images(repositoryName="fluent-bit")["imageDetails"]
        )


def test_environments_are_separate_accounts(talk_sim: Simulator) -> None:
    dev = client(talk_sim, "sts", "dev").get_caller_identity()
    prod = client(talk_sim, "sts", "prod").get_caller_identity()
    assert (dev["Account"], prod["Account"]) == ("111111111111", "333333333333")
    ecs_dev = client(talk_sim, "ecs", "dev")
    services = ecs_dev.list_services(cluster="card-platform", maxResults=100)["serviceArns"]
    assert len(services) == 12
    assert all(":111111111111:" in arn for arn in services)


def test_version_consistency_disabled_resolves_at_task_start(sim: Simulator) -> None:
    scenario = small_scenario()
    cluster = scenario["environments"][0]["clusters"][0]
    cluster["containers"][1]["version_consistency"] = "disabled"
    sim.stop()
    with Simulator(scenario) as fresh:
        ecs, ecr = client(fresh, "ecs", "dev"), client(fresh, "ecr", "dev")
        ecs.update_service(cluster="main", service="api", desiredCount=3)
        fresh.advance(120)
        # The scale-out task resolved `latest` when it started: 1.1, not the deployment's 1.0.
        assert digest_of(ecr, "latest") in sidecar_digests(ecs)
