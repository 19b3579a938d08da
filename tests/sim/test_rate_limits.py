"""AWS's rate limits in the simulator: on by default, off or overridden by a scenario.

Token buckets refill in real time (as AWS's do), so each test counts the calls that pass
before the first ThrottlingException and allows for the tokens refilled meanwhile.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import botocore.config
import pytest
from botocore.exceptions import ClientError

from fleetpatch.errors import UserError
from fleetpatch.sim import Simulator
from fleetpatch.sim.loading import load_scenario
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario

# One attempt: the test sees each throttle instead of botocore retrying it.
NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})


def _register(ecs: Any) -> None:
    ecs.register_task_definition(
        family="burst",
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )


def _calls_until_throttled(call: Any, most: int) -> tuple[int, float, ClientError | None]:
    """How many calls passed before the first throttle, the seconds taken, the error."""
    started = time.monotonic()
    for passed in range(most):
        try:
            call()
        except ClientError as error:
            return passed, time.monotonic() - started, error
    return most, time.monotonic() - started, None


def _assert_throttled(error: ClientError | None) -> None:
    assert error is not None, "never throttled"
    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.response["Error"]["Message"] == "Rate exceeded"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_register_task_definition_is_throttled_past_20_by_default(sim: Simulator) -> None:
    ecs = client(sim, "ecs", "dev", config=NO_RETRIES)
    passed, seconds, error = _calls_until_throttled(lambda: _register(ecs), 60)
    _assert_throttled(error)
    # 20 tokens, refilled at 1 a second while the burst ran.
    assert 20 <= passed <= 20 + math.ceil(seconds * 1)


def test_ecr_put_image_is_throttled_past_its_rate_by_default(sim: Simulator) -> None:
    ecr = client(sim, "ecr", "dev", config=NO_RETRIES)
    manifest = ecr.batch_get_image(repositoryName="fluent-bit", imageIds=[{"imageTag": "latest"}])[
        "images"
    ][0]["imageManifest"]
    tags = iter(range(1000))

    def put() -> None:
        ecr.put_image(
            repositoryName="fluent-bit", imageManifest=manifest, imageTag=f"t{next(tags)}"
        )

    passed, seconds, error = _calls_until_throttled(put, 60)
    _assert_throttled(error)
    # ECR's PutImage: 10 requests a second.
    assert 10 <= passed <= 10 + math.ceil(seconds * 10)


def test_a_scenario_turns_the_limits_off(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("faults:\n  rate_limits: off\n", encoding="utf-8")
    assert load_scenario(path).faults.aws_limits is False
    with Simulator(small_scenario(faults={"rate_limits": "off"})) as sim:
        ecs = client(sim, "ecs", "dev", config=NO_RETRIES)
        passed, _, error = _calls_until_throttled(lambda: _register(ecs), 30)
    assert (passed, error) == (30, None)


def test_a_scenario_overrides_one_operation() -> None:
    faults = {"rate_limits": {"UpdateService": {"burst": 2, "rate": 0.001}}}
    with Simulator(small_scenario(faults=faults)) as sim:
        ecs = client(sim, "ecs", "dev", config=NO_RETRIES)

        def update() -> None:
            ecs.update_service(cluster="main", service="api", forceNewDeployment=True)

        passed, _, error = _calls_until_throttled(update, 5)
        _assert_throttled(error)
        assert passed == 2
        # The simulator's clock is not AWS's: advancing it refills no bucket.
        sim.advance(3600)
        with pytest.raises(ClientError, match="Rate exceeded"):
            update()
        # Other operations keep AWS's limits.
        ecs.describe_services(cluster="main", services=["api"])


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (
            {"UpdateServic": {"burst": 1, "rate": 1}},
            "faults.rate_limits: 'UpdateServic' is not an ECS or ECR operation "
            "(did you mean UpdateService?)",
        ),
        (
            {"UpdateService": {"burst": 0, "rate": 1}},
            "faults.rate_limits.UpdateService.burst: Input should be greater than or equal to 1",
        ),
        (
            {"PutImage": {"burst": 5, "rate": -1}},
            "faults.rate_limits.PutImage.rate: Input should be greater than 0",
        ),
        (
            {"PutImage": {"burst": 5, "rate": 1, "jitter": 2}},
            "faults.rate_limits.PutImage.jitter: unknown key",
        ),
        ("sometimes", "faults: rate_limits: 'sometimes': write off"),
    ],
)
def test_an_impossible_limit_is_one_line_naming_the_key(
    tmp_path: Path, limits: object, message: str
) -> None:
    import yaml

    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"faults": {"rate_limits": limits}}), encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_scenario(path)
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: {message}")
