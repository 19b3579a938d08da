"""The AWS CLI (v1, the dev extra) works against the simulator as against ECS: its
`ecs wait services-stable` and `describe-*` commands with --endpoint-url, on keys the
simulator's STS issued. And botocore's own services_stable waiter (the waiter model the CLI
uses) follows a deployment to the end as the simulated clock moves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client


def aws(sim: Simulator, *args: str) -> subprocess.CompletedProcess[str]:
    ecs = client(sim, "ecs", "dev")
    credentials = ecs._request_signer._credentials  # the keys the simulator's STS issued
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": credentials.access_key,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        "AWS_SESSION_TOKEN": credentials.token,
        "AWS_DEFAULT_REGION": "eu-west-1",
        # Nothing from the user's own AWS set-up.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    return subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", sim.endpoint_url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_describe_commands_answer(sim: Simulator) -> None:
    services = aws(sim, "ecs", "describe-services", "--cluster", "main", "--services", "api")
    assert services.returncode == 0, services.stderr
    (service,) = json.loads(services.stdout)["services"]
    assert service["serviceName"] == "api"
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"

    listed = aws(sim, "ecs", "list-tasks", "--cluster", "main", "--service-name", "api")
    arns = json.loads(listed.stdout)["taskArns"]
    tasks = aws(sim, "ecs", "describe-tasks", "--cluster", "main", "--tasks", *arns)
    assert tasks.returncode == 0, tasks.stderr
    assert {t["lastStatus"] for t in json.loads(tasks.stdout)["tasks"]} == {"RUNNING"}

    td = aws(sim, "ecs", "describe-task-definition", "--task-definition", "api")
    assert td.returncode == 0, td.stderr
    assert json.loads(td.stdout)["taskDefinition"]["family"] == "api"


def test_wait_services_stable_passes_on_a_stable_fleet_and_fails_on_a_missing_service(
    sim: Simulator,
) -> None:
    stable = aws(
        sim, "ecs", "wait", "services-stable", "--cluster", "main", "--services", "api", "web"
    )
    assert stable.returncode == 0, stable.stderr
    missing = aws(sim, "ecs", "wait", "services-stable", "--cluster", "main", "--services", "gone")
    assert missing.returncode != 0
    assert "MISSING" in missing.stderr


def test_botocores_services_stable_waiter_follows_a_deployment(sim: Simulator) -> None:
    ecs = client(sim, "ecs", "dev")
    polls: list[int] = []

    def time_passes(**_: Any) -> None:
        # Each poll the waiter makes comes 10 simulated seconds after the one before.
        polls.append(1)
        sim.advance(10)

    ecs.meta.events.register("before-call.ecs.DescribeServices", time_passes)
    sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"]})
    ecs.update_service(cluster="main", service="api", forceNewDeployment=True)
    ecs.get_waiter("services_stable").wait(
        cluster="main", services=["api"], WaiterConfig={"Delay": 0, "MaxAttempts": 40}
    )
    # It waited: the rolling deployment took several polls to finish.
    assert len(polls) >= 3
    (service,) = ecs.describe_services(cluster="main", services=["api"])["services"]
    assert len(service["deployments"]) == 1
    assert service["runningCount"] == service["desiredCount"]
