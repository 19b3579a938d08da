"""The simulator's registries beyond the environment's own ECR, answered as AWS and the OCI
distribution spec define them: cross-account ECR reads, GetDownloadUrlForLayer, /_oci/."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client

SHARED = "222222222222"


def scenario() -> dict[str, Any]:
    image = {"tags": ["1.0", "stable"], "pushed_at": "2026-11-01T00:00:00Z"}
    return {
        "now": "2026-11-27T09:00:00Z",
        "environments": [
            {"name": "dev", "account": "111111111111", "region": "eu-west-1"},
            {
                "name": "registry",
                "account": SHARED,
                "region": "eu-west-1",
                "repositories": [
                    {"name": "fluent-bit", "images": [{**image, "platforms": ["linux/arm64"]}]}
                ],
            },
        ],
        "registries": [
            {"host": "index.docker.io", "repositories": [{"name": "fluent-bit", "images": [image]}]}
        ],
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario()) as simulator:
        yield simulator


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_another_accounts_repository_is_readable_not_writable(sim: Simulator) -> None:
    ecr = client(sim, "ecr", "dev")
    answer = ecr.batch_get_image(
        registryId=SHARED, repositoryName="fluent-bit", imageIds=[{"imageTag": "stable"}]
    )
    (image,) = answer["images"]
    assert image["registryId"] == SHARED
    with pytest.raises(ClientError) as refused:
        ecr.put_image(
            registryId=SHARED,
            repositoryName="fluent-bit",
            imageManifest=image["imageManifest"],
            imageTag="other",
        )
    assert error_code(refused) == "AccessDeniedException"
    assert "no resource-based policy allows the ecr:PutImage action" in str(refused.value)


def push_grant(principal: str, actions: list[str], effect: str = "Allow") -> dict[str, Any]:
    """A repository policy statement, as the ECR user guide's "Allow another account" one."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Push", "Effect": effect, "Principal": {"AWS": principal}, "Action": actions}
        ],
    }


def test_a_repository_policy_lets_another_account_write(sim: Simulator) -> None:
    """Cross-account PutImage needs a repository policy that allows it (ECR user guide,
    "Private repository policy examples"); set with SetRepositoryPolicy by the owner."""
    owner = client(sim, "ecr", "registry")
    ecr = client(sim, "ecr", "dev")
    image = ecr.batch_get_image(
        registryId=SHARED, repositoryName="fluent-bit", imageIds=[{"imageTag": "stable"}]
    )["images"][0]
    put = {
        "registryId": SHARED,
        "repositoryName": "fluent-bit",
        "imageManifest": image["imageManifest"],
        "imageTag": "other",
    }
    # A grant to someone else allows nothing to dev's account.
    owner.set_repository_policy(
        repositoryName="fluent-bit",
        policyText=json.dumps(push_grant("arn:aws:iam::333333333333:root", ["ecr:PutImage"])),
    )
    with pytest.raises(ClientError) as refused:
        ecr.put_image(**put)
    assert error_code(refused) == "AccessDeniedException"

    owner.set_repository_policy(
        repositoryName="fluent-bit",
        policyText=json.dumps(push_grant("arn:aws:iam::111111111111:root", ["ecr:Put*"])),
    )
    answer = ecr.put_image(**put)
    assert answer["image"]["registryId"] == SHARED
    tagged = owner.describe_images(repositoryName="fluent-bit", imageIds=[{"imageTag": "other"}])
    assert tagged["imageDetails"][0]["imageDigest"] == image["imageId"]["imageDigest"]

    # An explicit deny wins, for reads too.
    owner.set_repository_policy(
        repositoryName="fluent-bit",
        policyText=json.dumps(push_grant("111111111111", ["ecr:*"], effect="Deny")),
    )
    with pytest.raises(ClientError) as denied:
        ecr.describe_images(registryId=SHARED, repositoryName="fluent-bit")
    assert error_code(denied) == "AccessDeniedException"
    assert "explicit deny" in str(denied.value)


def test_a_scenario_repository_policy_is_the_repositorys_policy() -> None:
    scenario_ = scenario()
    grant = push_grant("arn:aws:iam::111111111111:root", ["ecr:PutImage"])
    scenario_["environments"][1]["repositories"][0]["policy"] = grant
    with Simulator(scenario_) as simulator:
        owner = client(simulator, "ecr", "registry")
        text = owner.get_repository_policy(repositoryName="fluent-bit")["policyText"]
        assert json.loads(text) == grant


def test_get_download_url_for_layer_serves_the_config_blob(sim: Simulator) -> None:
    ecr = client(sim, "ecr", "dev")
    image = ecr.batch_get_image(
        registryId=SHARED, repositoryName="fluent-bit", imageIds=[{"imageTag": "stable"}]
    )["images"][0]
    manifest = json.loads(image["imageManifest"])
    config_digest = manifest["config"]["digest"]
    assert "annotations" not in manifest
    answer = ecr.get_download_url_for_layer(
        registryId=SHARED, repositoryName="fluent-bit", layerDigest=config_digest
    )
    assert answer["layerDigest"] == config_digest
    with urllib.request.urlopen(answer["downloadUrl"], timeout=5) as response:
        blob = response.read()
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == config_digest
    assert (json.loads(blob)["os"], json.loads(blob)["architecture"]) == ("linux", "arm64")

    with pytest.raises(ClientError) as missing:
        ecr.get_download_url_for_layer(
            registryId=SHARED, repositoryName="fluent-bit", layerDigest="sha256:" + "0" * 64
        )
    assert error_code(missing) == "LayersNotFoundException"
    with pytest.raises(ClientError) as no_repository:
        ecr.get_download_url_for_layer(repositoryName="fluent-bit", layerDigest=config_digest)
    assert error_code(no_repository) == "RepositoryNotFoundException"


def get(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_oci_distribution_errors_use_the_specs_codes(sim: Simulator) -> None:
    base = sim.registry_url("docker.io")
    status, _, body = get(
        f"{base}/token?service=docker.io&scope=repository:library/fluent-bit:pull"
    )
    assert status == 200
    token = json.loads(body)["token"]
    status, headers, body = get(f"{base}/v2/library/fluent-bit/manifests/stable", token)
    assert status == 200 and headers["Docker-Content-Digest"].startswith("sha256:")
    assert headers["Content-Type"] == "application/vnd.oci.image.index.v1+json"
    status, _, body = get(f"{base}/v2/library/fluent-bit/manifests/9.9", token)
    assert (status, json.loads(body)["errors"][0]["code"]) == (404, "MANIFEST_UNKNOWN")
    # A token is bound to its scope: another repository asks again.
    status, headers, _ = get(f"{base}/v2/library/other/manifests/stable", token)
    assert status == 401 and 'scope="repository:library/other:pull"' in headers["WWW-Authenticate"]
    status, _, body = get(f"{base}/v2/library/fluent-bit/tags/list", token)
    assert json.loads(body) == {"name": "library/fluent-bit", "tags": ["1.0", "stable"]}


def test_ecs_resolves_an_oci_tag_at_deployment(sim: Simulator) -> None:
    digest = sim.registry.oci.digest_for("docker.io", "library/fluent-bit", "stable", None)
    assert digest is not None
    assert sim.registry.digest_for("fluent-bit:stable") == digest
    assert sim.registry.digest_for("docker.io/library/fluent-bit:stable") == digest
    assert sim.registry.digest_for("fluent-bit:missing") is None  # the pull would fail
