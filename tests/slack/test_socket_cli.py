"""`fleetpatch slack socket`: what can be checked without Slack's WebSocket server (the
secrets it needs, before anything else). Connecting is Bolt's built-in Socket Mode client
talking to wss://wss-primary.slack.com, which no local fake serves: not tested here."""

from __future__ import annotations

import pytest

from fleetpatch.cli.app import run

SLACK_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "FLEETPATCH_SLACK_SECRET",
)


@pytest.fixture(autouse=True)
def no_slack_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SLACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "error: SLACK_BOT_TOKEN is not set: export the app's bot token, xoxb-..."),
        (
            {"SLACK_BOT_TOKEN": "xoxb-socket-test"},
            "error: SLACK_APP_TOKEN is not set: export an app-level token with "
            "connections:write, xapp-...",
        ),
        (
            {"FLEETPATCH_SLACK_SECRET": "fleetpatch/slack"},
            "error: FLEETPATCH_SLACK_SECRET names fleetpatch/slack, but no Region is known",
        ),
    ],
)
def test_a_missing_secret_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variables: dict[str, str],
    message: str,
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert run(["slack", "socket"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1
    assert "xoxb-socket-test" not in err


def test_socket_is_listed_with_serve(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["slack", "--help"]) == 0
    out = capsys.readouterr().out
    assert "socket" in out and "serve" in out
