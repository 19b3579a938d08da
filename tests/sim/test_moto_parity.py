"""Where moto models an operation, the simulator's answer has the same shape as plain moto's.

Plain moto runs in its own process (the simulator corrects moto in-process), and the same calls
go to both; values differ (digests, times), the shape of every answer must not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from fleetpatch.sim import Simulator
from fleetpatch.sim.process import free_port, wait_for_port
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 9,
                "digest": "sha256:" + "b" * 64,
            }
        ],
    }
)


@pytest.fixture(scope="module")
def plain_moto() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process=process)
    url = f"http://127.0.0.1:{port}"
    yield url
    process.terminate()
    process.wait(timeout=10)


def shape(value: Any) -> Any:
    """Keys and types, not values; lists by the shape of their first item."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def exercise(ecr: Any) -> list[Any]:
    answers = [ecr.create_repository(repositoryName="parity")]
    answers.append(ecr.put_image(repositoryName="parity", imageManifest=MANIFEST, imageTag="v1"))
    answers.append(ecr.describe_repositories(repositoryNames=["parity"]))
    answers.append(ecr.describe_images(repositoryName="parity"))
    answers.append(ecr.list_images(repositoryName="parity"))
    answers.append(ecr.batch_get_image(repositoryName="parity", imageIds=[{"imageTag": "v1"}]))
    answers.append(ecr.batch_get_image(repositoryName="parity", imageIds=[{"imageTag": "nope"}]))
    return answers


def test_ecr_answers_have_moto_shapes(plain_moto: str) -> None:
    moto_ecr = boto3.client(
        "ecr",
        endpoint_url=plain_moto,
        region_name="eu-west-1",
        aws_access_key_id="fleetpatch-sim",
        aws_secret_access_key="fleetpatch-sim",
    )
    expected = [shape(answer) for answer in exercise(moto_ecr)]
    with Simulator(small_scenario()) as sim:
        got = [shape(answer) for answer in exercise(client(sim, "ecr", "dev"))]
    assert got == expected
