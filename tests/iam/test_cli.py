"""`fleetpatch iam-policy` through the CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetpatch.cli.app import run

ROOT = Path(__file__).resolve().parents[2]
TALK = ROOT / "examples" / "talk" / "fleetpatch.toml"


def test_json_prints_only_the_document_scoped_to_the_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--config", str(TALK), "iam-policy", "--env", "stg", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    document = json.loads(out)
    text = json.dumps(document)
    assert "222222222222" in text and "111111111111" not in text and "333333333333" not in text
    sids = [s["Sid"] for s in document["Statement"]]
    assert "EcsDeploySidecar" in sids and "EcrReadImages" in sids


def test_human_output_is_the_document_with_a_one_line_header_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--config", str(TALK), "iam-policy", "--role", "hub"]) == 0
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and err.startswith("# IAM policy for the hub role")
    statement = json.loads(out)["Statement"][0]
    assert statement["Sid"] == "AssumeTargetRoles"
    assert statement["Resource"] == [
        f"arn:aws:iam::{account}:role/fleetpatch"
        for account in ("111111111111", "222222222222", "333333333333")
    ]


def test_the_hub_account_and_region_fill_the_hubs_own_arns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETPATCH_SLACK_SECRET", "fleetpatch/slack")
    argv = ["--config", str(TALK), "iam-policy", "--role", "hub", "--json"]
    assert run([*argv, "--hub-account", "999999999999", "--hub-region", "eu-west-1"]) == 0
    secret = json.loads(capsys.readouterr().out)["Statement"][-1]
    assert secret["Sid"] == "SlackSecret"
    assert (
        secret["Resource"]
        == "arn:aws:secretsmanager:eu-west-1:999999999999:secret:fleetpatch/slack-??????"
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--env", "qa"], "unknown environment 'qa'; known: dev, stg, prod"),
        (["--role", "admin"], "--role must be one of hub, target"),
        (["--hub-account", "123"], "--hub-account must be a 12-digit account id"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(TALK), "iam-policy", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and says in err
