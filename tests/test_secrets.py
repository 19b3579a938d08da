"""The Slack app's secrets from the environment or from one Secrets Manager secret, read over
HTTP from the simulator with a role's credentials the way a Lambda function has them. Every
failure is one line naming what and how to fix it (exit 2); no value is ever in a message,
a repr or a log line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import boto3
import pytest

from fleetpatch.errors import UserError
from fleetpatch.secrets import SECRET_VARIABLE, SlackSecrets, slack_secrets
from fleetpatch.sim import SIM_ACCESS_KEY, Simulator
from tests.conftest import small_scenario

BOT = "xoxb-test-bot-0123456789"
SIGNING = "test-signing-secret-abcdef"
APP = "xapp-test-app-token-xyz"
VALUES = (BOT, SIGNING, APP)


@pytest.fixture
def secrets_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    scenario = small_scenario()
    scenario["environments"][0]["secrets"] = [
        {
            "name": "fleetpatch/slack",
            "value": {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING},
        },
        {"name": "fleetpatch/not-json", "value": f"{BOT} {SIGNING}"},
        {"name": "fleetpatch/a-list", "value": json.dumps([BOT])},
        {"name": "fleetpatch/a-number", "value": {"SLACK_BOT_TOKEN": 12345}},
        {
            "name": "fleetpatch/locked",
            "value": {"SLACK_BOT_TOKEN": BOT},
            "policy": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "secretsmanager:GetSecretValue",
                        "Resource": "*",
                    }
                ]
            },
        },
    ]
    with Simulator(scenario) as simulator:
        _as_the_functions_role(simulator, monkeypatch)
        yield simulator


def _as_the_functions_role(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in the environment, as Lambda gives a function its role's."""
    sts = boto3.client(
        "sts",
        endpoint_url=sim.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id=SIM_ACCESS_KEY,
        aws_secret_access_key=SIM_ACCESS_KEY,
    )
    issued = sts.assume_role(
        RoleArn="arn:aws:iam::111111111111:role/fleetpatch", RoleSessionName="chatops"
    )["Credentials"]
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/fleetpatch-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/fleetpatch-credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", issued["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", issued["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", issued["SessionToken"])
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    # botocore's own per-service endpoint variable: nothing fleetpatch-specific.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sim.endpoint_url)


def _load(monkeypatch: pytest.MonkeyPatch, secret_id: str) -> SlackSecrets:
    monkeypatch.setenv(SECRET_VARIABLE, secret_id)
    return slack_secrets()


def test_the_variables_are_the_source_when_no_secret_is_named() -> None:
    secrets = slack_secrets({"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING})
    assert (secrets.bot_token, secrets.signing_secret, secrets.app_token) == (BOT, SIGNING, None)
    secrets.require("bot_token", "signing_secret")
    with pytest.raises(UserError) as exc:
        secrets.require("bot_token", "app_token")
    assert str(exc.value) == (
        "SLACK_APP_TOKEN is not set: export an app-level token with connections:write, "
        "xapp-..., or name a Secrets Manager secret holding it in FLEETPATCH_SLACK_SECRET"
    )
    assert exc.value.exit_code == 2
    with pytest.raises(UserError, match=r"^SLACK_BOT_TOKEN is not set: export"):
        slack_secrets({"SLACK_BOT_TOKEN": "  "}).require("bot_token")


def test_the_named_secret_is_read_with_get_secret_value(
    secrets_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A variable set too is not mixed in: the secret is the one source.
    monkeypatch.setenv("SLACK_APP_TOKEN", APP)
    secrets = _load(monkeypatch, "fleetpatch/slack")
    assert (secrets.bot_token, secrets.signing_secret, secrets.app_token) == (BOT, SIGNING, None)
    secrets.require("bot_token", "signing_secret")
    assert secrets_sim.app is not None
    assert secrets_sim.app.calls["secretsmanager:GetSecretValue"] == 1
    with pytest.raises(UserError) as exc:
        secrets.require("app_token")
    assert str(exc.value) == (
        "the secret fleetpatch/slack (from FLEETPATCH_SLACK_SECRET) has no SLACK_APP_TOKEN key: "
        'add "SLACK_APP_TOKEN": an app-level token with connections:write, xapp-... to its JSON'
    )


@pytest.mark.parametrize(
    ("secret_id", "message"),
    [
        (
            "fleetpatch/missing",
            "Secrets Manager has no the secret fleetpatch/missing (from FLEETPATCH_SLACK_SECRET): "
            "create it, or fix the name or ARN",
        ),
        (
            "fleetpatch/locked",
            "not allowed to read the secret fleetpatch/locked (from FLEETPATCH_SLACK_SECRET): "
            "grant secretsmanager:GetSecretValue on it to the role this runs as (and kms:Decrypt "
            "on its key, if it has its own)",
        ),
        (
            "fleetpatch/not-json",
            "the secret fleetpatch/not-json (from FLEETPATCH_SLACK_SECRET) is not JSON: store a "
            'JSON object like {"SLACK_BOT_TOKEN": "xoxb-...", "SLACK_SIGNING_SECRET": "..."}',
        ),
        (
            "fleetpatch/a-list",
            "the secret fleetpatch/a-list (from FLEETPATCH_SLACK_SECRET) is not a JSON object: "
            'store one like {"SLACK_BOT_TOKEN": "xoxb-...", "SLACK_SIGNING_SECRET": "..."}',
        ),
        (
            "fleetpatch/a-number",
            "the secret fleetpatch/a-number (from FLEETPATCH_SLACK_SECRET): SLACK_BOT_TOKEN must "
            "be a string",
        ),
    ],
)
def test_a_secret_that_cannot_be_used_is_one_line_naming_it(
    secrets_sim: Simulator, monkeypatch: pytest.MonkeyPatch, secret_id: str, message: str
) -> None:
    with pytest.raises(UserError) as exc:
        _load(monkeypatch, secret_id)
    assert str(exc.value) == message
    assert exc.value.exit_code == 2
    # nothing chained that a traceback would print (the JSON decoder's error quotes the text)
    assert exc.value.__cause__ is None
    assert exc.value.__context__ is None or exc.value.__suppress_context__


def test_a_name_without_a_region_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match=r"no Region is known: give the secret's full ARN"):
        slack_secrets({SECRET_VARIABLE: "fleetpatch/slack"})


def test_no_value_is_ever_printed_logged_or_in_a_message(
    secrets_sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every logger at INFO (botocore's DEBUG prints response bodies: docs/deployment.md).
    caplog.set_level(logging.INFO)
    seen: list[str] = []
    loaded = _load(monkeypatch, "fleetpatch/slack")
    from_variables = slack_secrets(
        {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SIGNING, "SLACK_APP_TOKEN": APP}
    )
    for secrets in (loaded, from_variables):
        seen += [repr(secrets), str(secrets), f"{secrets}", f"{secrets!r}"]
    assert repr(from_variables) == (
        "SlackSecrets(source='environment', bot_token=<set>, signing_secret=<set>, app_token=<set>)"
    )
    for secret_id in ("fleetpatch/not-json", "fleetpatch/a-list", "fleetpatch/locked"):
        with pytest.raises(UserError) as exc:
            _load(monkeypatch, secret_id)
        seen.append(str(exc.value))
    output = capsys.readouterr()
    seen += [output.out, output.err]
    seen += [f"{record.getMessage()} {record.args!r}" for record in caplog.records]
    everything = "\n".join(seen)
    for value in VALUES:
        assert value not in everything
