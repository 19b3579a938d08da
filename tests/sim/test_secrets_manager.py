"""Secrets Manager over HTTP, as AWS answers it: a scenario's secrets are there, a missing
one is ResourceNotFoundException (HTTP 400), a resource policy's explicit deny and a
cross-account read no policy allows are AccessDeniedException in IAM's words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from fleetpatch.sim import SIM_ACCESS_KEY, Simulator
from fleetpatch.sim.simulator import client
from tests.conftest import small_scenario

SLACK = {"SLACK_BOT_TOKEN": "xoxb-sim-bot", "SLACK_SIGNING_SECRET": "sim-signing"}


def _deny(action: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": "arn:aws:iam::111111111111:role/fleetpatch"},
                "Action": action,
                "Resource": "*",
            }
        ],
    }


def _allow_account(account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
            }
        ],
    }


@pytest.fixture
def secrets_sim() -> Iterator[Simulator]:
    scenario = small_scenario()
    scenario["environments"][0]["secrets"] = [
        {"name": "fleetpatch/slack", "value": SLACK},
        {"name": "plain", "value": "just text"},
        {"name": "locked", "value": "x", "policy": _deny("secretsmanager:Get*")},
    ]
    ops = json.loads(json.dumps(scenario["environments"][0]))
    ops.update(name="ops", account="222222222222", clusters=[], repositories=[])
    ops["secrets"] = [
        {"name": "shared", "value": "for dev", "policy": _allow_account("111111111111")},
        {"name": "private", "value": "ops only"},
    ]
    scenario["environments"].append(ops)
    with Simulator(scenario) as simulator:
        yield simulator


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: Any = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_a_scenarios_secret_is_read_with_get_secret_value(secrets_sim: Simulator) -> None:
    secrets = client(secrets_sim, "secretsmanager", "dev")
    answer = secrets.get_secret_value(SecretId="fleetpatch/slack")
    assert json.loads(answer["SecretString"]) == SLACK
    assert answer["Name"] == "fleetpatch/slack"
    assert answer["ARN"].startswith("arn:aws:secretsmanager:eu-west-1:111111111111:secret:")
    # by its ARN too, and a string value is kept as given
    assert secrets.get_secret_value(SecretId=answer["ARN"])["SecretString"] == json.dumps(SLACK)
    assert secrets.get_secret_value(SecretId="plain")["SecretString"] == "just text"


def test_a_missing_secret_is_resource_not_found_with_status_400(secrets_sim: Simulator) -> None:
    secrets = client(secrets_sim, "secretsmanager", "dev")
    with pytest.raises(ClientError) as exc:
        secrets.get_secret_value(SecretId="fleetpatch/nope")
    code, message, status = _error(exc)
    assert (code, status) == ("ResourceNotFoundException", 400)
    assert message == "Secrets Manager can't find the specified secret."


def test_an_explicit_deny_in_the_resource_policy_is_access_denied(secrets_sim: Simulator) -> None:
    secrets = client(secrets_sim, "secretsmanager", "dev")
    with pytest.raises(ClientError) as exc:
        secrets.get_secret_value(SecretId="locked")
    code, message, status = _error(exc)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message.startswith(
        "User: arn:aws:sts::111111111111:assumed-role/fleetpatch/fleetpatch-sim is not "
        "authorized to perform: secretsmanager:GetSecretValue on resource: "
        "arn:aws:secretsmanager:eu-west-1:111111111111:secret:locked-"
    )
    assert message.endswith("because an explicit deny in a resource-based policy")
    # the deny names Get*: describing the secret is still allowed
    assert secrets.describe_secret(SecretId="locked")["Name"] == "locked"


def test_another_accounts_secret_needs_its_resource_policy(secrets_sim: Simulator) -> None:
    ops = client(secrets_sim, "secretsmanager", "ops")
    shared = ops.describe_secret(SecretId="shared")["ARN"]
    private = ops.describe_secret(SecretId="private")["ARN"]
    dev = client(secrets_sim, "secretsmanager", "dev")
    assert dev.get_secret_value(SecretId=shared)["SecretString"] == "for dev"
    with pytest.raises(ClientError) as exc:
        dev.get_secret_value(SecretId=private)
    code, message, _ = _error(exc)
    assert code == "AccessDeniedException"
    assert message.endswith(
        f"on resource: {private} because no resource-based policy allows the "
        "secretsmanager:GetSecretValue action"
    )


def test_an_unknown_access_key_is_refused_before_secrets_manager(secrets_sim: Simulator) -> None:
    stranger = boto3.client(
        "secretsmanager",
        endpoint_url=secrets_sim.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="AKIANOTISSUEDBYSIM00",
        aws_secret_access_key="whatever",
    )
    with pytest.raises(ClientError) as exc:
        stranger.get_secret_value(SecretId="fleetpatch/slack")
    assert _error(exc)[0] == "UnrecognizedClientException"
    # the base credential is a principal of moto's default account, which has no such secret
    base = boto3.client(
        "secretsmanager",
        endpoint_url=secrets_sim.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id=SIM_ACCESS_KEY,
        aws_secret_access_key="whatever",
    )
    with pytest.raises(ClientError) as exc:
        base.get_secret_value(SecretId="fleetpatch/slack")
    assert _error(exc)[0] == "ResourceNotFoundException"
