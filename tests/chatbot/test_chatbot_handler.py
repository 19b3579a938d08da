"""The AWS Chatbot handler in-process against the simulator: the payload Chatbot's
`@aws lambda invoke --payload {...}` passes in, plain text out; a rollout handed to an
asynchronous invocation (a fake Lambda client replays it) that runs once and verifies; and
everything that needs an approval refused, because Chatbot tells the function nobody's name."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.chatbot.handler import make_handler
from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.sim import Simulator
from tests.chatbot.fake_lambda import FUNCTION_ARN, FakeLambda, LambdaContext
from tests.conftest import small_scenario
from tests.inventory.helpers import add_prod, render_config
from tests.rollout.helpers import FAST_POLL, SimClock

ROLE_SESSION = "arn:aws:sts::111111111111:assumed-role/fleetpatch/"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(add_prod(small_scenario())) as simulator:
        yield simulator


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.sqlite"
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(path))
    return path


@pytest.fixture
def lambda_client() -> FakeLambda:
    return FakeLambda()


@pytest.fixture
def handler(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    journal_path: Path,
    lambda_client: FakeLambda,
) -> Any:
    """The function as deployed: its config from FLEETPATCH_CONFIG; prod needs an approval."""
    prod_policy = {"required": 1, "approvers": [f"{ROLE_SESSION}*"]}
    config = render_config(
        sim, tmp_path / "fleetpatch.toml", environments={"prod": {"approvals": prod_policy}}
    )
    monkeypatch.setenv("FLEETPATCH_CONFIG", str(config))
    return make_handler(
        lambda_client=lambda_client,
        clock=lambda: SimClock(sim),
        now=sim.clock.now,
        options=lambda: RolloutOptions(poll=FAST_POLL),
    )


def _say(handler: Any, command: Any) -> str:
    reply = handler(command, LambdaContext())
    assert isinstance(reply, str), reply
    json.dumps(reply)  # what Lambda returns to Chatbot must be JSON-serialisable
    return reply


def _entries(path: Path, environment: str | None = None) -> list[Any]:
    with SqliteJournal(path) as journal:
        return journal.entries(environment=environment)


def test_status_answers_in_plain_text(handler: Any) -> None:
    reply = _say(handler, {"command": "status"})
    assert reply.startswith("fleetpatch status at 2026-11-27T09:00:00Z")
    assert "dev fluent-bit: 3 services; 1.0-aaaaaaa on 3 svc; drift 3; tag now 1.1-bbbbbbb" in (
        reply
    )
    assert "prod fluent-bit: 3 services" in reply
    assert "\x1b[" not in reply and "[bold" not in reply  # no terminal or Rich markup


def test_plan_answers_with_the_target_and_the_waves(handler: Any, journal_path: Path) -> None:
    reply = _say(handler, {"command": "plan dev"})
    first = reply.splitlines()[0]
    assert re.fullmatch(
        r"dev: fluent-bit -> 1\.1-bbbbbbb \(sha256:[0-9a-f]{64}\), chosen by .+; mode tag", first
    ), first
    assert "3 to deploy in " in reply
    canary = r"^wave 1 \(canary\): main/\w+ \(now sha256:[0-9a-f]{8}…\)$"
    assert re.search(canary, reply, re.M), reply
    # the bare JSON string is a command too
    assert _say(handler, "plan dev").splitlines()[0] == first


def test_rollout_starts_asynchronously_and_runs_once(
    handler: Any, lambda_client: FakeLambda, journal_path: Path, sim: Simulator
) -> None:
    reply = _say(handler, {"command": "rollout dev"})
    started = re.search(r"^started: rollout (r-[0-9a-f]{12}) of 1\.1-bbbbbbb to dev ", reply, re.M)
    assert started, reply
    rollout_id = started[1]
    assert "follow it: fleetpatch history --env dev" in reply
    # Handed off, not run: one asynchronous invocation of this very function, nothing deployed.
    assert len(lambda_client.invocations) == 1
    invocation = lambda_client.invocations[0]
    assert (invocation["FunctionName"], invocation["InvocationType"]) == (FUNCTION_ARN, "Event")
    assert not [e for e in _entries(journal_path) if e.kind == EntryKind.DEPLOYMENT_STARTED]

    [result] = lambda_client.replay(handler)
    assert result["ok"] is True, result
    assert (result["rollout_id"], sorted(result["verified"])) == (
        rollout_id,
        ["main/api", "main/web", "main/worker"],
    )
    entries = [e for e in _entries(journal_path, "dev") if e.rollout_id == rollout_id]
    kinds = [e.kind for e in entries]
    assert kinds.count(EntryKind.DEPLOYMENT_STARTED) == 3
    assert kinds.count(EntryKind.VERIFIED) == 3
    # Who: the function's role, noted as via AWS Chatbot.
    assert {e.actor for e in entries} == {f"iam:{ROLE_SESSION}fleetpatch"}
    [note] = [e for e in entries if e.kind == EntryKind.NOTE]
    assert note.details["via"] == "AWS Chatbot"

    # Lambda redelivers an asynchronous event: the rerun finds dev done and deploys nothing.
    lambda_client.pending.append(invocation)
    [again] = lambda_client.replay(handler)
    assert again["ok"] is True and again["verified"] == []
    kinds = [e.kind for e in _entries(journal_path, "dev")]
    assert kinds.count(EntryKind.DEPLOYMENT_STARTED) == 3
    assert "drift 0" in _say(handler, {"command": "status"}).split("prod fluent-bit")[0]


@pytest.mark.parametrize("command", ["rollout prod", "promote prod", "rollback prod"])
def test_what_needs_an_approval_is_refused_with_the_reason(
    handler: Any, lambda_client: FakeLambda, journal_path: Path, command: str
) -> None:
    action = command.split()[0]
    reply = _say(handler, {"command": command})
    assert reply == (
        f"refused: {action} of prod needs 1 approval(s), and AWS Chatbot passes no Slack "
        "identity to this function, so from here nobody can request or approve a change: use "
        f"the fleetpatch Slack app (/fleetpatch {action} prod) or the CLI (fleetpatch {action} "
        "--env prod, then fleetpatch approve)"
    )
    assert lambda_client.invocations == []
    [refused] = _entries(journal_path, "prod")
    assert refused.kind == EntryKind.REFUSED
    # the function's identity in prod's account (the role it reaches prod with)
    assert refused.actor == "iam:arn:aws:sts::333333333333:assumed-role/fleetpatch/fleetpatch"
    assert refused.details["attempted"] == action
    assert refused.details["via"] == "AWS Chatbot"


def test_promote_and_rollback_without_a_policy_are_not_offered(handler: Any) -> None:
    reply = _say(handler, {"command": "rollback dev"})
    assert reply.startswith("refused: rollback dev is not offered from AWS Chatbot: use the CLI")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"command": "deploy dev"}, "fleetpatch: unknown command 'deploy dev'"),
        ({"command": "plan staging"}, "fleetpatch: no environment 'staging'"),
        ({"command": "plan"}, "fleetpatch: unknown command 'plan'"),
        ({"text": "status"}, 'fleetpatch: the payload has no "command"'),
        ({"command": ""}, "fleetpatch from AWS Chatbot"),
    ],
)
def test_anything_else_gets_the_usage(
    handler: Any, lambda_client: FakeLambda, payload: Any, problem: str
) -> None:
    reply = _say(handler, payload)
    lines = reply.splitlines()
    assert lines[0] == problem
    assert lines[1].startswith("usage: @aws lambda invoke --function-name FUNCTION --payload")
    assert "environments: dev, prod" in lines
    assert "AWS Chatbot passes no Slack identity" in lines[-1]
    assert lambda_client.invocations == []


def test_a_config_that_cannot_load_is_the_reply(
    handler: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLEETPATCH_CONFIG", str(tmp_path / "missing.toml"))
    reply = _say(handler, {"command": "status"})
    assert reply.startswith("error: ") and "missing.toml: config file not found" in reply


def test_the_rollout_reply_names_the_notification_channel(
    handler: Any, lambda_client: FakeLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Path(os.environ["FLEETPATCH_CONFIG"])
    config.write_text(
        config.read_text() + '\n[notifications.slack]\nchannel = "C0OPSCHAN"\n', encoding="utf-8"
    )
    reply = _say(handler, {"command": "rollout dev"})
    follow = "follow it: fleetpatch history --env dev, progress in the Slack channel <#C0OPSCHAN>"
    assert follow in reply
    assert len(lambda_client.invocations) == 1
