"""The events handler against the simulator: a fleet of dev, stg and prod (one account, a
cluster each, the sidecar from the account's own ECR), the rollout state machine created in
the simulator's Step Functions (moto's: executions are recorded, never run), a fake Slack, and
EventBridge events built from AWS's documented examples (tests/fixtures/events)."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

import fleetpatch.workflow
from fleetpatch.config import Config, load_config
from fleetpatch.events.aws_lambda import STATE_MACHINE_VARIABLE, make_handler
from fleetpatch.sim import SIM_ACCESS_KEY, Simulator
from fleetpatch.sim.simulator import client
from tests.slack.fake_api import FakeSlackApi

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "events"
ACCOUNT, REGION = "111111111111", "eu-west-1"
CHANNEL = "C0FLEET01"
CRITICAL = {
    "id": "CVE-2024-4323",
    "severity": "critical",
    "package": "fluent-bit",
    "installed": "1.0",
    "fixed": "1.1",
    "published": "2026-11-20T00:00:00Z",
}


def scenario(new_image_findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """fluent-bit 1.0 (CVE-2024-4323, critical) runs in the dev, stg and prod clusters; 1.1
    (fixes it; `new_image_findings` are its own) was pushed as `latest` two days ago."""
    cluster = {
        "deployed_at": "2026-11-10T00:00:00Z",
        "containers": [
            {"name": "app", "image": "{registry}/{service}:1"},
            {
                "name": "log_router",
                "image": "{registry}/fluent-bit:latest",
                "firelens": "fluentbit",
            },
        ],
        "services": ["api", "worker"],
    }
    return {
        "now": "2026-11-27T09:00:00Z",
        "time_scale": 0,
        "task_start_seconds": 30,
        "environments": [
            {
                "name": "fleet",
                "account": ACCOUNT,
                "region": REGION,
                "repositories": [
                    {
                        "name": "fluent-bit",
                        "images": [
                            {
                                "tags": ["1.0-aaaaaaa", "latest"],
                                "pushed_at": "2026-11-01T00:00:00Z",
                                "findings": [CRITICAL],
                            },
                            {
                                "tags": ["1.1-bbbbbbb", "latest"],
                                "pushed_at": "2026-11-25T00:00:00Z",
                                "findings": new_image_findings or [],
                            },
                        ],
                    }
                ],
                "clusters": [{**cluster, "name": name} for name in ("dev", "stg", "prod")],
            }
        ],
    }


def write_config(
    sim: Simulator,
    tmp_path: Path,
    *,
    prod_requires: tuple[str, ...] = (),
    stg_requires: tuple[str, ...] = (),
    wait_for_scan: bool = False,
    prod_requesters: tuple[str, ...] = (),
) -> Config:
    """dev and stg: auto; prod: auto, one approval from the secops group."""
    role = f"arn:aws:iam::{ACCOUNT}:role/{sim.scenario.role_name}"
    lines = [
        f'journal = "{tmp_path / "journal.sqlite"}"',
        "",
        "[[sidecars]]",
        'name = "fluent-bit"',
        'repository = "fluent-bit"',
        'container = "log_router*"',
        "",
    ]
    requires = {"dev": (), "stg": stg_requires, "prod": prod_requires}
    for name in ("dev", "stg", "prod"):
        lines += [
            "[[environments]]",
            f'name = "{name}"',
            f'account_id = "{ACCOUNT}"',
            f'region = "{REGION}"',
            f'endpoint_url = "{sim.endpoint_url}"',
            f'clusters = ["{name}"]',
            "auto = true",
            f"requires = {json.dumps(list(requires[name]))}",
            f'credentials = {{ role_arn = "{role}" }}',
        ]
        if name == "prod":
            lines += ["[environments.approvals]", "required = 1", 'approvers = ["S0SECOPS"]']
            if prod_requesters:
                lines.append(f"requesters = {json.dumps(list(prod_requesters))}")
        lines.append("")
    lines += [
        "[automation]",
        f"wait_for_scan = {'true' if wait_for_scan else 'false'}",
        "",
        "[notifications.slack]",
        f'channel = "{CHANNEL}"',
        "",
    ]
    path = tmp_path / "fleetpatch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return load_config(path)


def state_machine(sim: Simulator) -> tuple[Any, str]:
    """The rollout state machine in the simulator's Step Functions, as the template makes it."""
    sfn = boto3.client(
        "stepfunctions",
        endpoint_url=sim.endpoint_url,
        region_name=REGION,
        aws_access_key_id=SIM_ACCESS_KEY,
        aws_secret_access_key=SIM_ACCESS_KEY,
    )
    definition = (Path(fleetpatch.workflow.__file__).parent / "rollout.asl.json").read_text()
    substitutions = {
        "StepsFunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:fleetpatch-steps",
        "WaveStateMachineArn": f"arn:aws:states:{REGION}:123456789012:stateMachine:wave",
    }
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", value)
    created = sfn.create_state_machine(
        name="fleetpatch-rollout",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/fleetpatch-rollout",
        type="STANDARD",
    )
    return sfn, created["stateMachineArn"]


@dataclass
class Lambda:
    """The handler as the function runs it, and what it did."""

    sim: Simulator
    config: Config
    sfn: Any
    arn: str
    slack: FakeSlackApi

    def __call__(self, event: dict[str, Any]) -> Any:
        environ = {
            STATE_MACHINE_VARIABLE: self.arn,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": self.slack.base_url,
        }
        handler = make_handler(
            stepfunctions=self.sfn,
            environ=environ,
            now=self.sim.clock.now,
            config=lambda: self.config,
        )
        return handler(event, None)

    def executions(self) -> dict[str, dict[str, Any]]:
        """Each execution of the rollout state machine: name -> its input."""
        listed = self.sfn.list_executions(stateMachineArn=self.arn)["executions"]
        return {
            e["name"]: json.loads(
                self.sfn.describe_execution(executionArn=e["executionArn"])["input"]
            )
            for e in listed
        }

    def posts(self) -> list[dict[str, Any]]:
        return [c.params for c in self.slack.calls("chat.postMessage")]


@contextmanager
def running(sim: Simulator, config: Config) -> Iterator[Lambda]:
    sfn, arn = state_machine(sim)
    with FakeSlackApi() as slack:
        yield Lambda(sim, config, sfn, arn, slack)


def digest_of(sim: Simulator, tag: str) -> str:
    ecr = client(sim, "ecr", "fleet")
    images = ecr.describe_images(repositoryName="fluent-bit", imageIds=[{"imageTag": tag}])
    return str(images["imageDetails"][0]["imageDigest"])


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def push_event(digest: str, tag: str = "latest", repository: str = "fluent-bit") -> dict[str, Any]:
    event = copy.deepcopy(fixture("ecr-image-push"))
    event.update(account=ACCOUNT, region=REGION)
    event["detail"].update(
        {"repository-name": repository, "image-digest": digest, "image-tag": tag}
    )
    return event


def ecr_scan_event(digest: str, critical: int = 0) -> dict[str, Any]:
    event = copy.deepcopy(fixture("ecr-image-scan"))
    event.update(account=ACCOUNT, region=REGION)
    counts = {"CRITICAL": critical, "MEDIUM": 2} if critical else {"MEDIUM": 2}
    event["resources"] = [f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/fluent-bit"]
    event["detail"].update(
        {
            "repository-name": "fluent-bit",
            "image-digest": digest,
            "image-tags": ["1.1-bbbbbbb", "latest"],
            "finding-severity-counts": counts,
        }
    )
    return event


def finding_event(digest: str, vulnerability: str, severity: str = "CRITICAL") -> dict[str, Any]:
    event = copy.deepcopy(fixture("inspector2-finding-ecr"))
    event.update(account=ACCOUNT, region=REGION)
    detail = event["detail"]
    detail.update(awsAccountId=ACCOUNT, severity=severity, title=f"{vulnerability} - fluent-bit")
    detail["packageVulnerabilityDetails"]["vulnerabilityId"] = vulnerability
    image = detail["resources"][0]["details"]["awsEcrContainerImage"]
    image.update(imageHash=digest, registry=ACCOUNT, repositoryName="fluent-bit")
    return event


def scheduled_event() -> dict[str, Any]:
    event = fixture("scheduled-event")
    event.update(account="123456789012", region=REGION)
    return event


def event_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "fleetpatch.events"]


def capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fleetpatch.events")


def inspector_scan_event(digest: str, critical: int = 0) -> dict[str, Any]:
    event = copy.deepcopy(fixture("inspector2-scan-ecr"))
    event.update(account=ACCOUNT, region=REGION)
    arn = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/fluent-bit"
    event["resources"] = [arn]
    event["detail"].update(
        {
            "repository-name": arn,
            "image-digest": digest,
            "image-tags": ["latest"],
            "finding-severity-counts": {"CRITICAL": critical, "HIGH": 0, "MEDIUM": 1, "TOTAL": 1},
        }
    )
    return event
