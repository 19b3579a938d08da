"""`fleetpatch sim serve` as a newcomer runs it: a served simulator, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from fleetpatch.sim.process import Served, served
from tests.conftest import TALK_NOW, TALK_SCENARIO


def fleetpatch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fleetpatch", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def served_talk() -> Iterator[Served]:
    with served(TALK_SCENARIO, now=TALK_NOW) as simulator:
        yield simulator


def test_served_simulator_answers_boto3_and_the_control_api(served_talk: Served) -> None:
    url = served_talk.endpoint_url
    sts = boto3.client(
        "sts",
        endpoint_url=url,
        region_name="ap-northeast-1",
        aws_access_key_id="fleetpatch-sim",
        aws_secret_access_key="fleetpatch-sim",
    )
    role = "arn:aws:iam::333333333333:role/fleetpatch"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    ecs = boto3.client(
        "ecs",
        endpoint_url=url,
        region_name="ap-northeast-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert len(ecs.list_services(cluster="card-platform", maxResults=100)["serviceArns"]) == 12

    request = urllib.request.Request(
        f"{url}/_sim/advance", data=json.dumps({"seconds": 3600}).encode(), method="POST"
    )
    with urllib.request.urlopen(request) as answer:
        assert json.load(answer)["now"].startswith("2026-11-27T10:00:00")


def test_a_port_in_use_says_so(served_talk: Served) -> None:
    port = served_talk.endpoint_url.rsplit(":", 1)[1]
    result = fleetpatch("sim", "serve", "--scenario", str(TALK_SCENARIO), "--port", port)
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("environments:\n  - name: dev\n    acount: '1'\n", "environments[0].acount: unknown key"),
        ("environments: [\n", "not valid YAML at line"),
        ("time_scale: fast\n", "time_scale"),
        (
            "environments:\n  - {name: dev, account: '111111111111', region: eu-west-1,\n"
            "     clusters: [{name: c, services: [a]}]}\n",
            "has no containers",
        ),
    ],
)
def test_a_bad_scenario_names_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(text)
    result = fleetpatch("sim", "serve", "--scenario", str(scenario), "--port", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(scenario) in lines[0] and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_a_missing_scenario_file_is_one_line(tmp_path: Path) -> None:
    result = fleetpatch("sim", "serve", "--scenario", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "scenario file not found" in result.stderr
    assert "Traceback" not in result.stderr
