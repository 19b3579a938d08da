"""`fleetpatch slack serve` refuses to start without its secrets, naming the variable."""

from __future__ import annotations

import pytest

from fleetpatch.cli.app import run


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-secret-token-value"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "  ", "SLACK_SIGNING_SECRET": "s3cr3t"}, "SLACK_BOT_TOKEN"),
    ],
)
def test_a_missing_secret_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, str],
    named: str,
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert run(["slack", "serve", "--port", "0"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]
    for value in environment.values():
        if value.strip():
            assert value not in captured.err + captured.out
