"""The simulator's ECR (moto, with the simulator's corrections, findings and layers) held to
botocore's service model, as the ECS layer is (test_ecs_contract.py): every raw answer of
every ECR operation fleetpatch calls, successes and refusals, walked against the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario
from tests.sim.contract import Recorder

# What fleetpatch calls on ECR (grep src/fleetpatch for the client's methods).
FLEETPATCH_CALLS = {
    "BatchDeleteImage",
    "BatchGetImage",
    "DescribeImageScanFindings",
    "DescribeImages",
    "DescribeRepositories",
    "GetDownloadUrlForLayer",
    "GetLifecyclePolicy",
    "PutImage",
}


@pytest.fixture(scope="module")
def walk() -> Iterator[Recorder]:
    scenario = small_scenario()
    repository = scenario["environments"][0]["repositories"][0]
    repository["images"][0]["findings"] = [
        {
            "id": "CVE-2024-4323",
            "severity": "critical",
            "package": "fluent-bit",
            "installed": "1.0",
            "fixed": "1.1",
            "published": "2024-05-20T00:00:00Z",
        }
    ]
    # A single-platform image: its manifest names a config blob (GetDownloadUrlForLayer).
    repository["images"].append(
        {"tags": ["1.2-ccccccc"], "pushed_at": "2026-11-26T00:00:00Z", "platforms": ["linux/amd64"]}
    )
    recorder = Recorder()
    with Simulator(scenario) as sim:
        ecr = recorder.attach(client(sim, "ecr", "dev"))
        _walk(ecr)
    yield recorder


def _walk(ecr: Any) -> None:
    ecr.describe_repositories()
    ecr.describe_repositories(repositoryNames=["fluent-bit"])
    images = ecr.describe_images(repositoryName="fluent-bit")["imageDetails"]
    old = next(i for i in images if "1.0-aaaaaaa" in i.get("imageTags", []))
    got = ecr.batch_get_image(
        repositoryName="fluent-bit",
        imageIds=[{"imageTag": "latest"}, {"imageTag": "no-such-tag"}],
        acceptedMediaTypes=[
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
        ],
    )
    manifest = got["images"][0]["imageManifest"]
    ecr.describe_image_scan_findings(
        repositoryName="fluent-bit", imageId={"imageDigest": old["imageDigest"]}
    )
    _layer(ecr)
    ecr.put_image(repositoryName="fluent-bit", imageManifest=manifest, imageTag="pinned")
    ecr.batch_delete_image(repositoryName="fluent-bit", imageIds=[{"imageTag": "pinned"}])
    for refused in (
        lambda: ecr.get_lifecycle_policy(repositoryName="fluent-bit"),
        lambda: ecr.describe_images(repositoryName="no-such-repository"),
        lambda: ecr.describe_repositories(repositoryNames=["no-such-repository"]),
    ):
        with pytest.raises(ClientError):
            refused()


def _layer(ecr: Any) -> None:
    got = ecr.batch_get_image(repositoryName="fluent-bit", imageIds=[{"imageTag": "1.2-ccccccc"}])
    config = json.loads(got["images"][0]["imageManifest"])["config"]["digest"]
    ecr.get_download_url_for_layer(repositoryName="fluent-bit", layerDigest=config)


def test_every_ecr_operation_fleetpatch_calls_was_exercised(walk: Recorder) -> None:
    assert walk.operations >= FLEETPATCH_CALLS


def test_every_ecr_answer_matches_botocores_service_model(walk: Recorder) -> None:
    assert walk.problems == []


def test_ecr_refusals_carry_ecrs_error_codes(walk: Recorder) -> None:
    assert walk.errors["GetLifecyclePolicy"] == {"LifecyclePolicyNotFoundException"}
    assert walk.errors["DescribeImages"] == {"RepositoryNotFoundException"}
    assert walk.errors["DescribeRepositories"] == {"RepositoryNotFoundException"}
