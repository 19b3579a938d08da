"""The in-memory ECS layer driven directly through `EcsSimulator.handle`, with a dict for a
registry, a set of failing digests and a clock that the tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetpatch.sim.clock import SimClock
from fleetpatch.sim.ecs import EcsSimulator
from fleetpatch.sim.ecs.models import split_image
from fleetpatch.sim.protocol import AwsError, TaskFailure

ACCOUNT = "111111111111"
REGION = "eu-west-1"
REPO = "127.0.0.1:5000/fluent-bit"
APP = "127.0.0.1:5000/app"
OLD = "sha256:" + "a" * 64
NEW = "sha256:" + "b" * 64
BAD = "sha256:" + "c" * 64
APP_DIGEST = "sha256:" + "d" * 64


class FakeRegistry:
    """repo:tag -> digest, plus the digests each repository still holds."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.digests: set[tuple[str, str]] = set()

    def push(self, repo: str, tag: str, digest: str) -> None:
        self.tags[f"{repo}:{tag}"] = digest
        self.digests.add((repo, digest))

    def expire(self, repo: str, digest: str) -> None:
        self.digests.discard((repo, digest))
        self.tags = {k: v for k, v in self.tags.items() if v != digest}

    def digest_for(self, image: str) -> str | None:
        repo, tag, digest = split_image(image)
        if digest is not None:
            return digest if (repo, digest) in self.digests else None
        return self.tags.get(f"{repo}:{tag or 'latest'}")


class FakeFailures:
    """Tasks running a digest in `bad` fail with `reason`."""

    def __init__(self) -> None:
        self.bad: set[str] = set()
        self.reason = "Essential container in task exited"
        self.calls: list[tuple[str, str, str, str, dict[str, str]]] = []

    def task_failure(
        self, account: str, region: str, cluster: str, service: str, digests: dict[str, str]
    ) -> TaskFailure | None:
        self.calls.append((account, region, cluster, service, dict(digests)))
        return TaskFailure(self.reason) if self.bad & set(digests.values()) else None


class Env:
    def __init__(self) -> None:
        self.clock = SimClock(start=datetime(2025, 1, 1, tzinfo=UTC), time_scale=0.0)
        self.registry = FakeRegistry()
        self.registry.push(REPO, "latest", OLD)
        self.registry.push(APP, "1.0", APP_DIGEST)
        self.failures = FakeFailures()
        self.ecs = EcsSimulator(self.clock, self.registry, self.failures, seed=7)

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        return self.ecs.handle(ACCOUNT, REGION, action, params)

    def register(self, sidecar: str = f"{REPO}:latest", **sidecar_extra: Any) -> str:
        answer = self.call(
            "RegisterTaskDefinition",
            family="web",
            containerDefinitions=[
                {"name": "app", "image": f"{APP}:1.0", "essential": True},
                {"name": "log-router", "image": sidecar, "essential": True, **sidecar_extra},
            ],
        )
        arn: str = answer["taskDefinition"]["taskDefinitionArn"]
        return arn

    def create(self, desired: int = 2, breaker: bool = False, **extra: Any) -> dict[str, Any]:
        self.call("CreateCluster", clusterName="prod")
        td = self.register()
        service: dict[str, Any] = self.call(
            "CreateService",
            cluster="prod",
            serviceName="web",
            taskDefinition=td,
            desiredCount=desired,
            launchType="FARGATE",
            deploymentConfiguration={
                "deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker}
            },
            **extra,
        )["service"]
        return service

    def service(self) -> dict[str, Any]:
        answer = self.call("DescribeServices", cluster="prod", services=["web"])
        service: dict[str, Any] = answer["services"][0]
        return service

    def tasks(self, desired_status: str = "RUNNING") -> list[dict[str, Any]]:
        arns = self.call(
            "ListTasks", cluster="prod", serviceName="web", desiredStatus=desired_status
        )["taskArns"]
        if not arns:
            return []
        tasks: list[dict[str, Any]] = self.call("DescribeTasks", cluster="prod", tasks=arns)[
            "tasks"
        ]
        return tasks

    def sidecar_digests(self) -> list[str]:
        return sorted(
            c.get("imageDigest", "")
            for t in self.tasks()
            for c in t["containers"]
            if c["name"] == "log-router" and t["lastStatus"] == "RUNNING"
        )

    def deployments(self) -> list[dict[str, Any]]:
        briefs = self.call("ListServiceDeployments", cluster="prod", service="web")
        arns = [b["serviceDeploymentArn"] for b in briefs["serviceDeployments"]]
        found: list[dict[str, Any]] = self.call(
            "DescribeServiceDeployments", serviceDeploymentArns=arns
        )["serviceDeployments"]
        return found

    def revision(self, arn: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("DescribeServiceRevisions", serviceRevisionArns=[arn])[
            "serviceRevisions"
        ][0]
        return found


@pytest.fixture
def env() -> Env:
    return Env()


def messages(service: dict[str, Any]) -> list[str]:
    return [e["message"] for e in service["events"]]


# --- rolling deployments ---------------------------------------------------------------------


def test_create_service_rolls_out_over_time(env: Env) -> None:
    created = env.create()
    assert created["serviceArn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web"
    assert created["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert created["deployments"][0]["id"].startswith("ecs-svc/")
    assert created["pendingCount"] == 2

    env.clock.advance(29)
    assert env.service()["runningCount"] == 0
    env.clock.advance(1)
    service = env.service()
    assert service["runningCount"] == 2
    [deployment] = service["deployments"]
    assert deployment["status"] == "PRIMARY"
    assert deployment["rolloutState"] == "COMPLETED"
    assert messages(service)[:2] == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {deployment['id']}) deployment completed.",
    ]
    [sd] = env.deployments()
    assert sd["status"] == "SUCCESSFUL"
    assert sd["finishedAt"] == env.clock.now().timestamp()
    assert service["currentServiceDeployment"] == sd["serviceDeploymentArn"]


def test_tasks_show_every_container_with_its_digest(env: Env) -> None:
    env.create()
    env.clock.advance(60)
    tasks = env.tasks()
    assert len(tasks) == 2
    task = tasks[0]
    assert task["group"] == "service:web"
    assert task["startedBy"] == env.service()["deployments"][0]["id"]
    assert task["lastStatus"] == "RUNNING"
    assert [(c["name"], c["image"], c["imageDigest"]) for c in task["containers"]] == [
        ("app", f"{APP}:1.0", APP_DIGEST),
        ("log-router", f"{REPO}:latest", OLD),
    ]
    # The failure rules saw the digests each new task was about to run.
    assert env.failures.calls[0] == (
        ACCOUNT,
        REGION,
        "prod",
        "web",
        {"app": APP_DIGEST, "log-router": OLD},
    )


def test_a_moved_tag_reaches_the_service_only_through_a_new_deployment(env: Env) -> None:
    env.create()
    env.clock.advance(60)
    first_revision = env.service()["currentServiceRevisions"][0]["arn"]
    env.registry.push(REPO, "latest", NEW)

    # Scale-out keeps the deployment's digest.
    env.call("UpdateService", cluster="prod", service="web", desiredCount=3)
    env.clock.advance(60)
    assert env.sidecar_digests() == [OLD, OLD, OLD]
    assert len(env.deployments()) == 1

    env.call("UpdateService", cluster="prod", service="web", forceNewDeployment=True)
    service = env.service()
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY", "ACTIVE"]
    env.clock.advance(120)
    assert env.sidecar_digests() == [NEW, NEW, NEW]
    service = env.service()
    assert len(service["deployments"]) == 1
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"

    new_revision = service["currentServiceRevisions"][0]["arn"]
    assert new_revision != first_revision
    images = {i["containerName"]: i for i in env.revision(new_revision)["containerImages"]}
    assert images["log-router"] == {
        "containerName": "log-router",
        "image": f"{REPO}:latest",
        "imageDigest": NEW,
    }
    stopped = env.tasks("STOPPED")
    assert len(stopped) == 3
    assert {t["stopCode"] for t in stopped} == {"ServiceSchedulerInitiated"}
    assert all("deployment ecs-svc/" in t["stoppedReason"] for t in stopped)


def test_rolling_update_respects_minimum_healthy_and_maximum_percent(env: Env) -> None:
    env.create(desired=4)
    env.clock.advance(60)
    env.call(
        "UpdateService",
        cluster="prod",
        service="web",
        forceNewDeployment=True,
        deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 100},
    )
    for _ in range(20):
        service = env.service()
        live = sum(d["runningCount"] + d["pendingCount"] for d in service["deployments"])
        assert live <= 4
        assert service["runningCount"] >= 2
        env.clock.advance(5)
    assert env.service()["deployments"][0]["rolloutState"] == "COMPLETED"


def test_desired_count_zero_completes_at_once(env: Env) -> None:
    created = env.create(desired=0)
    assert created["deployments"][0]["rolloutState"] == "COMPLETED"
    assert env.deployments()[0]["status"] == "SUCCESSFUL"
    assert env.tasks() == []


def test_settle_finishes_deployments_now(env: Env) -> None:
    env.create(desired=3)
    env.ecs.settle()
    service = env.service()
    assert service["runningCount"] == 3
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    now = env.clock.now().timestamp()
    assert {t["startedAt"] for t in env.tasks()} == {now}


# --- version consistency edge cases -----------------------------------------------------------


def test_version_consistency_disabled_resolves_at_each_task_start(env: Env) -> None:
    env.call("CreateCluster", clusterName="prod")
    td = env.register(versionConsistency="disabled")
    env.call("CreateService", cluster="prod", serviceName="web", taskDefinition=td, desiredCount=1)
    env.clock.advance(60)
    revision_arn = env.service()["currentServiceRevisions"][0]["arn"]
    images = {i["containerName"]: i for i in env.revision(revision_arn)["containerImages"]}
    assert "imageDigest" not in images["log-router"]
    assert images["app"]["imageDigest"] == APP_DIGEST

    env.registry.push(REPO, "latest", NEW)
    env.call("UpdateService", cluster="prod", service="web", desiredCount=2)
    env.clock.advance(60)
    assert env.sidecar_digests() == [OLD, NEW]


def test_expired_digest_fails_scale_out_with_cannot_pull(env: Env) -> None:
    env.create(desired=1)
    env.clock.advance(60)
    env.ecs.advance()  # the first task started before the registry changes below
    env.registry.push(REPO, "latest", NEW)
    env.registry.expire(REPO, OLD)  # a lifecycle rule removed the untagged image
    env.call("UpdateService", cluster="prod", service="web", desiredCount=2)
    env.clock.advance(31)
    [failed, *_] = env.tasks("STOPPED")
    assert failed["stopCode"] == "TaskFailedToStart"
    assert failed["stoppedReason"].startswith("CannotPullContainerError: ")
    assert f"failed to resolve ref {REPO}@{OLD}: not found" in failed["stoppedReason"]
    assert env.sidecar_digests() == [OLD]  # the running task is unaffected
    assert env.service()["deployments"][0]["failedTasks"] >= 1


def test_unresolvable_tag_fails_every_task(env: Env) -> None:
    env.call("CreateCluster", clusterName="prod")
    td = env.register(sidecar=f"{REPO}:missing")
    env.call("CreateService", cluster="prod", serviceName="web", taskDefinition=td, desiredCount=1)
    env.clock.advance(31)
    [failed] = env.tasks("STOPPED")
    assert f"failed to resolve ref {REPO}:missing: not found" in failed["stoppedReason"]


# --- failures, circuit breaker, rollback ----------------------------------------------------


def _push_bad_and_deploy(env: Env) -> None:
    env.registry.push(REPO, "latest", BAD)
    env.failures.bad.add(BAD)
    env.call("UpdateService", cluster="prod", service="web", forceNewDeployment=True)


def test_circuit_breaker_rolls_back_to_the_last_completed_revision(env: Env) -> None:
    env.create(desired=2, breaker=True)
    env.clock.advance(60)
    good_revision = env.service()["currentServiceRevisions"][0]["arn"]
    good_td = env.service()["taskDefinition"]
    _push_bad_and_deploy(env)

    env.clock.advance(600)
    service = env.service()
    assert service["runningCount"] == 2
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]
    assert service["taskDefinition"] == good_td
    assert env.sidecar_digests() == [OLD, OLD]
    failed_id = next(
        m.split("deployment ")[1].split(")")[0] for m in messages(service) if "failed" in m
    )
    assert (
        f"(service web) (deployment {failed_id}) deployment failed: tasks failed to start."
        in messages(service)
    )
    assert any("rolling back to deployment" in m for m in messages(service))

    latest, first = env.deployments()
    assert first["status"] == "SUCCESSFUL"
    assert latest["status"] == "ROLLBACK_SUCCESSFUL"
    assert latest["deploymentCircuitBreaker"] == {
        "status": "TRIGGERED",
        "failureCount": 3,
        "threshold": 3,
    }
    assert latest["rollback"]["serviceRevisionArn"] == good_revision
    assert latest["rollback"]["reason"] == "ECS deployment circuit breaker: tasks failed to start."
    # No new revision for the rollback: the service runs the old one again.
    assert service["currentServiceRevisions"][0]["arn"] == good_revision
    stopped = env.tasks("STOPPED")
    assert {t["stopCode"] for t in stopped} == {"EssentialContainerExited"}
    exits = [c for t in stopped for c in t["containers"] if c.get("exitCode") == 1]
    assert len(exits) == len(stopped)


def test_breaker_threshold_scales_with_desired_count(env: Env) -> None:
    env.create(desired=10, breaker=True)
    env.ecs.settle()
    _push_bad_and_deploy(env)
    env.clock.advance(3600)
    assert env.deployments()[0]["deploymentCircuitBreaker"]["threshold"] == 5


def test_without_circuit_breaker_a_failing_deployment_keeps_trying(env: Env) -> None:
    env.create(desired=2)
    env.clock.advance(60)
    _push_bad_and_deploy(env)
    env.clock.advance(24 * 3600)
    service = env.service()
    primary = service["deployments"][0]
    assert primary["rolloutState"] == "IN_PROGRESS"
    assert primary["failedTasks"] > 10
    assert service["runningCount"] == 2  # the old tasks keep serving
    assert env.sidecar_digests() == [OLD, OLD]
    assert env.deployments()[0]["status"] == "IN_PROGRESS"


def test_stop_service_deployment_rolls_back_without_rollback_configured(env: Env) -> None:
    env.create(desired=2)
    env.clock.advance(60)
    good_revision = env.service()["currentServiceRevisions"][0]["arn"]
    _push_bad_and_deploy(env)
    env.clock.advance(45)
    latest = env.deployments()[0]
    answer = env.call(
        "StopServiceDeployment",
        serviceDeploymentArn=latest["serviceDeploymentArn"],
        stopType="ROLLBACK",
    )
    assert answer == {"serviceDeploymentArn": latest["serviceDeploymentArn"]}
    # The old tasks never stopped (the new ones never got healthy), so the rollback keeps
    # them and only has to stop the failed deployment's tasks.
    env.clock.advance(120)
    latest = env.deployments()[0]
    assert latest["status"] == "ROLLBACK_SUCCESSFUL"
    assert latest["rollback"]["serviceRevisionArn"] == good_revision
    assert env.sidecar_digests() == [OLD, OLD]
    with pytest.raises(AwsError) as err:
        env.call("StopServiceDeployment", serviceDeploymentArn=latest["serviceDeploymentArn"])
    assert err.value.code == "ConflictException"


# --- API surface --------------------------------------------------------------------------------


def test_task_definition_round_trip_keeps_everything(env: Env) -> None:
    request = {
        "family": "web",
        "cpu": "256",
        "memory": "512",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": "log-router",
                "image": f"{REPO}:latest",
                "versionConsistency": "disabled",
                "firelensConfiguration": {"type": "fluentbit"},
                "essential": True,
            }
        ],
    }
    env.call("RegisterTaskDefinition", **request, tags=[{"key": "team", "value": "core"}])
    env.call("RegisterTaskDefinition", **request)
    for ref in ("web", "web:2", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:2"):
        td = env.call("DescribeTaskDefinition", taskDefinition=ref)["taskDefinition"]
        assert td["revision"] == 2
        given = {k: v for k, v in request.items() if k != "containerDefinitions"}
        assert {k: td[k] for k in given} == given
        (container,) = td["containerDefinitions"]
        # Everything given comes back, with the defaults ECS fills in beside it.
        assert container.items() >= request["containerDefinitions"][0].items()  # type: ignore[index,union-attr]
        assert container["cpu"] == 0
        assert container["portMappings"] == container["environment"] == []
    first = env.call("DescribeTaskDefinition", taskDefinition="web:1", include=["TAGS"])
    assert first["tags"] == [{"key": "team", "value": "core"}]

    env.call("DeregisterTaskDefinition", taskDefinition="web:2")
    assert (
        env.call("DescribeTaskDefinition", taskDefinition="web")["taskDefinition"]["revision"] == 1
    )
    listed = env.call("ListTaskDefinitions", familyPrefix="web")["taskDefinitionArns"]
    assert [a.rsplit(":", 1)[1] for a in listed] == ["1"]
    with pytest.raises(AwsError) as err:
        env.call("DescribeTaskDefinition", taskDefinition="nope")
    assert err.value.code == "ClientException"


def test_describe_services_limits_and_failures(env: Env) -> None:
    env.create()
    answer = env.call("DescribeServices", cluster="prod", services=["web", "gone"])
    assert [s["serviceName"] for s in answer["services"]] == ["web"]
    assert answer["failures"] == [
        {"arn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/gone", "reason": "MISSING"}
    ]
    with pytest.raises(AwsError) as err:
        env.call("DescribeServices", cluster="prod", services=[f"s{i}" for i in range(11)])
    assert err.value.code == "InvalidParameterException"
    with pytest.raises(AwsError) as err:
        env.call("DescribeServices", cluster="nope", services=["web"])
    assert err.value.code == "ClusterNotFoundException"
    with pytest.raises(AwsError) as err:
        env.call("UpdateService", cluster="prod", service="gone", desiredCount=1)
    assert err.value.code == "ServiceNotFoundException"
    config = answer["services"][0]["deploymentConfiguration"]
    assert config == {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "alarms": {"alarmNames": [], "rollback": False, "enable": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }


def test_describe_tasks_limits_and_failures(env: Env) -> None:
    env.create()
    with pytest.raises(AwsError) as err:
        env.call("DescribeTasks", cluster="prod", tasks=[f"t{i}" for i in range(101)])
    assert err.value.code == "InvalidParameterException"
    answer = env.call("DescribeTasks", cluster="prod", tasks=["0" * 32])
    assert answer["tasks"] == []
    assert answer["failures"][0]["reason"] == "MISSING"


def test_list_services_paginates(env: Env) -> None:
    env.create()
    td = env.register()
    for i in range(24):
        env.call(
            "CreateService", cluster="prod", serviceName=f"s{i}", taskDefinition=td, desiredCount=0
        )
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"cluster": "prod"}
        if token:
            params["nextToken"] = token
        answer = env.call("ListServices", **params)
        seen += answer["serviceArns"]
        pages += 1
        token = answer.get("nextToken")
        if not token:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 25


def test_stop_task_is_replaced(env: Env) -> None:
    env.create(desired=1)
    env.clock.advance(60)
    [task] = env.tasks()
    stopped = env.call("StopTask", cluster="prod", task=task["taskArn"], reason="testing")["task"]
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stopCode"] == "UserInitiated"
    assert stopped["stoppedReason"] == "testing"
    env.clock.advance(60)
    [replacement] = env.tasks()
    assert replacement["taskArn"] != task["taskArn"]
    assert env.tasks("STOPPED")[0]["lastStatus"] == "STOPPED"


def test_delete_service_drains_then_goes_inactive(env: Env) -> None:
    env.create(desired=1)
    env.clock.advance(60)
    with pytest.raises(AwsError):
        env.call("DeleteService", cluster="prod", service="web")
    assert (
        env.call("DeleteService", cluster="prod", service="web", force=True)["service"]["status"]
        == "DRAINING"
    )
    env.clock.advance(60)
    assert env.service()["status"] == "INACTIVE"
    assert env.call("ListServices", cluster="prod")["serviceArns"] == []


def test_tags_and_accounts_are_independent(env: Env) -> None:
    created = env.create(desired=0)
    arn = created["serviceArn"]
    env.call("TagResource", resourceArn=arn, tags=[{"key": "env", "value": "prod"}])
    assert env.call("ListTagsForResource", resourceArn=arn)["tags"] == [
        {"key": "env", "value": "prod"}
    ]
    env.call("UntagResource", resourceArn=arn, tagKeys=["env"])
    assert env.call("ListTagsForResource", resourceArn=arn)["tags"] == []
    other = env.ecs.handle("222222222222", REGION, "ListClusters", {})
    assert other["clusterArns"] == []


def test_split_image_handles_registry_ports() -> None:
    assert split_image("127.0.0.1:5000/repo:tag") == ("127.0.0.1:5000/repo", "tag", None)
    assert split_image("127.0.0.1:5000/repo") == ("127.0.0.1:5000/repo", None, None)
    assert split_image(f"repo:tag@{OLD}") == ("repo", "tag", OLD)
    assert split_image("fluent/fluent-bit") == ("fluent/fluent-bit", None, None)


@settings(max_examples=40, deadline=None)
@given(
    desired=st.integers(min_value=0, max_value=6),
    minimum=st.sampled_from([0, 50, 100]),
    maximum=st.sampled_from([100, 150, 200]),
)
def test_any_rolling_configuration_finishes_within_its_bounds(
    desired: int, minimum: int, maximum: int
) -> None:
    env = Env()
    env.create(desired=desired)
    env.ecs.settle()
    env.registry.push(REPO, "latest", NEW)
    env.call(
        "UpdateService",
        cluster="prod",
        service="web",
        forceNewDeployment=True,
        deploymentConfiguration={"minimumHealthyPercent": minimum, "maximumPercent": maximum},
    )
    # The bounds hold unless they leave no room at all (then one task goes over).
    ceiling = max(desired * maximum // 100, desired + 1)
    # 100/100 replaces one task at a time (start + stop each): allow for six of them.
    for _ in range(60):
        service = env.service()
        live = sum(d["runningCount"] + d["pendingCount"] for d in service["deployments"])
        assert live <= ceiling
        env.clock.advance(5)
    service = env.service()
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]
    assert env.sidecar_digests() == [NEW] * desired


def test_list_service_deployments_filters_and_abort(env: Env) -> None:
    env.create(desired=1)
    env.clock.advance(60)
    created_first = env.clock.now().timestamp()
    _push_bad_and_deploy(env)
    listed = env.call(
        "ListServiceDeployments", cluster="prod", service="web", status=["IN_PROGRESS"]
    )["serviceDeployments"]
    assert len(listed) == 1
    arn = listed[0]["serviceDeploymentArn"]
    assert arn.startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/prod/web/")
    later = env.call(
        "ListServiceDeployments", cluster="prod", service="web", createdAt={"after": created_first}
    )["serviceDeployments"]
    assert [b["serviceDeploymentArn"] for b in later] == [arn]

    env.call("StopServiceDeployment", serviceDeploymentArn=arn, stopType="ABORT")
    [stopped] = env.call("DescribeServiceDeployments", serviceDeploymentArns=[arn])[
        "serviceDeployments"
    ]
    assert stopped["status"] == "STOPPED"
    env.clock.advance(300)
    service = env.service()
    assert service["deployments"][0]["rolloutState"] == "FAILED"
    assert env.sidecar_digests() == [OLD]  # the old task keeps serving
    with pytest.raises(AwsError) as err:
        env.call("StopServiceDeployment", serviceDeploymentArn=arn + "x")
    assert err.value.code == "ServiceDeploymentNotFoundException"
    missing = env.call("DescribeServiceDeployments", serviceDeploymentArns=[arn + "x"])
    assert missing["failures"] == [{"arn": arn + "x", "reason": "MISSING"}]
