"""`auto = true` and `[automation]` in fleetpatch.toml: defaults, and one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleetpatch.config import parse_config
from fleetpatch.errors import UserError

SOURCE = Path("fleetpatch.toml")


def base(**prod: Any) -> dict[str, Any]:
    return {
        "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
        "environments": [
            {"name": "dev", "account_id": "111111111111", "region": "eu-west-1", "auto": True},
            {"name": "prod", "account_id": "333333333333", "region": "eu-west-1", **prod},
        ],
    }


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(UserError) as info:
        parse_config(data, SOURCE)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_nothing_starts_itself_unless_the_config_says_so() -> None:
    config = parse_config(base(), SOURCE)
    assert config.environment("dev").auto is True
    assert config.environment("prod").auto is False
    assert config.automation.wait_for_scan is False
    with_scan = parse_config({**base(), "automation": {"wait_for_scan": True}}, SOURCE)
    assert with_scan.automation.wait_for_scan is True


def test_wrong_values_and_keys_are_one_line_naming_the_key() -> None:
    data = base()
    data["environments"][0]["auto"] = "yes"
    assert error_of(data) == (
        'fleetpatch.toml: environments[0].auto: expected true or false, got "yes"'
    )
    typo = {**base(), "automation": {"wait_for_scans": True}}
    assert error_of(typo) == (
        "fleetpatch.toml: automation.wait_for_scans: unknown key (did you mean 'wait_for_scan'?)"
    )


def test_an_auto_environment_that_needs_approval_needs_a_channel_to_ask_in() -> None:
    approvals = {"required": 1, "approvers": ["S0SECOPS"]}
    message = error_of(base(auto=True, approvals=approvals))
    assert message.startswith("fleetpatch.toml: environments[1].auto: 'prod' needs approval")
    assert "[notifications.slack]" in message
    with_channel = {
        **base(auto=True, approvals=approvals),
        "notifications": {"slack": {"channels": {"prod": "C0PRODOPS"}}},
    }
    assert parse_config(with_channel, SOURCE).environment("prod").auto is True
