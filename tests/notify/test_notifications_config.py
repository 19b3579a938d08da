"""`[notifications]` in fleetpatch.toml: where runs are announced; mistakes are one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleetpatch.config import parse_config
from fleetpatch.errors import UserError
from fleetpatch.notify import configured_notifier, notification_checks
from fleetpatch.notify.run import RunContext

SOURCE = Path("fleetpatch.toml")


def config_with(notifications: dict[str, Any]) -> Any:
    data = {
        "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
        "environments": [
            {"name": "dev", "account_id": "111111111111", "region": "eu-west-1"},
            {"name": "prod", "account_id": "333333333333", "region": "eu-west-1"},
        ],
        "notifications": notifications,
    }
    return parse_config(data, SOURCE)


def test_a_channel_for_all_and_one_per_environment() -> None:
    config = config_with({"slack": {"channel": "C0123ABCD", "channels": {"prod": "C0PRODOPS"}}})
    assert config.notifications.slack_channel("dev") == "C0123ABCD"
    assert config.notifications.slack_channel("prod") == "C0PRODOPS"
    only_prod = config_with({"slack": {"channels": {"prod": "C0PRODOPS"}}})
    assert only_prod.notifications.slack_channel("dev") is None
    assert config_with({}).notifications.slack_channel("dev") is None


@pytest.mark.parametrize(
    ("notifications", "message"),
    [
        (
            {"slack": {"channel": "#deploys"}},
            "notifications.slack.channel: expected a Slack channel ID like 'C0123ABCD'",
        ),
        ({"slack": {"chanel": "C0123ABCD"}}, "notifications.slack.chanel: unknown key (did you"),
        (
            {"slack": {"channels": {"prdo": "C0123ABCD"}}},
            "notifications.slack.channels.prdo: unknown environment 'prdo' (did you mean 'prod'?)",
        ),
        (
            {"slack": {"channels": {"prod": "prod-ops"}}},
            "notifications.slack.channels.prod: expected a Slack channel ID",
        ),
        ({"slack": {"token": "xoxb-1"}}, "notifications.slack.token: unknown key"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(notifications: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as caught:
        config_with(notifications)
    assert str(caught.value).startswith(f"{SOURCE}: {message}")
    assert "\n" not in str(caught.value)


def test_without_a_token_no_notifier_and_a_warning_naming_the_variable() -> None:
    config = config_with({"slack": {"channel": "C0123ABCD"}})
    run = RunContext("r-1", "dev", "alice")
    assert configured_notifier(config, run, environ={}) is None
    (check,) = notification_checks(config, "dev", environ={})
    assert check.status == "warn" and "SLACK_BOT_TOKEN is not set" in check.message
    (check,) = notification_checks(config, "dev", environ={"SLACK_BOT_TOKEN": "xoxb-1"})
    assert check.status == "ok" and "xoxb" not in check.message
    assert notification_checks(config_with({}), "dev", environ={}) == []


def test_a_token_from_secrets_manager_that_cannot_be_read_is_a_warning_not_a_refusal() -> None:
    config = config_with({"slack": {"channel": "C0123ABCD"}})
    # A secret name with no Region to read it in: fleetpatch/secrets.py says so in one line.
    environ = {"FLEETPATCH_SLACK_SECRET": "fleetpatch/slack"}
    assert configured_notifier(config, RunContext("r-1", "dev", "alice"), environ=environ) is None
    (check,) = notification_checks(config, "dev", environ=environ)
    assert check.status == "warn" and "fleetpatch/slack" in check.message
