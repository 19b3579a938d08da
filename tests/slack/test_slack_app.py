"""The Slack app end to end: signed HTTP requests to the app on localhost, its Web API calls
to the fake Slack, its rollouts on the simulator, and the journal as the record of who did
what."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.config import Config, load_config
from fleetpatch.journal import SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.slack.blocks import APPROVE, REJECT
from tests.conftest import small_scenario
from tests.inventory.helpers import add_prod, render_config
from tests.slack.fake_api import FakeSlackApi
from tests.slack.slack_app import CHANNEL, RunningApp, posted, running_app, sign, texts

REQUEST_TIMEOUT = 60.0


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(add_prod(small_scenario()), time_scale=600) as simulator:
        yield simulator


@pytest.fixture
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.sqlite"
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(path))
    return path


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(user_groups={"S0SECOPS": ["U0BOB", "U0DAN"]}) as fake:
        yield fake


def make_config(sim: Simulator, tmp_path: Path, **approvals: Any) -> Config:
    """prod: one approval from the secops group; alice (or secops) may ask."""
    policy = {
        "required": 1,
        "approvers": ["S0SECOPS"],
        "requesters": ["U0ALICE", "S0SECOPS"],
        **approvals,
    }
    path = render_config(
        sim, tmp_path / "fleetpatch.toml", environments={"prod": {"approvals": policy}}
    )
    return load_config(path)


@pytest.fixture
def app(
    sim: Simulator, tmp_path: Path, journal_path: Path, slack: FakeSlackApi
) -> Iterator[RunningApp]:
    with running_app(make_config(sim, tmp_path), slack, sim) as running:
        yield running


def journal(path: Path) -> list[tuple[str, str]]:
    with SqliteJournal(path) as store:
        return [(e.kind.value, e.actor) for e in store.entries(environment="prod")]


def request_trail(path: Path) -> list[tuple[str, str]]:
    with SqliteJournal(path) as store:
        return [
            (e.kind.value, e.actor)
            for e in store.entries(environment="prod")
            if "request_id" in e.details or e.kind.value == "refused"
        ]


def wait_until(condition: Any, what: str, timeout: float = REQUEST_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.02)


def request_message(app: RunningApp) -> dict[str, Any]:
    (call,) = app.slack.wait_for("chat.postMessage")
    assert call.params["channel"] == CHANNEL
    return posted(call)


def has_buttons(blocks: list[dict[str, Any]]) -> bool:
    return any(b["type"] == "actions" for b in blocks)


def test_a_rollout_from_slack_with_four_eyes(
    app: RunningApp, sim: Simulator, journal_path: Path
) -> None:
    slack = app.slack
    answer = app.command("U0ALICE", "rollout prod")
    assert answer.status == 200 and "Working on `rollout prod`" in answer.body

    # The plan, with the target's version and digest, and Approve / Reject behind a confirm.
    message = request_message(app)
    shown = texts(message["blocks"])
    assert "Rollout prod: fluent-bit → 1.1-bbbbbbb" in shown
    assert "sha256:" in shown and "0 of 1" in shown and "<@U0ALICE>" in shown
    buttons = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert [e["action_id"] for e in buttons] == [APPROVE, REJECT]
    assert all("confirm" in e for e in buttons)
    assert sim.calls["ecs:UpdateService"] == 0

    # alice can't approve her own request: told so, alone; the buttons stay.
    assert app.click(message, "U0ALICE", APPROVE).status == 200
    (refusal,) = slack.wait_for("response_url:alice")
    assert "four eyes" in refusal.params["text"] and refusal.params["response_type"] == "ephemeral"
    assert slack.calls("chat.update") == []

    # bob approves: the buttons are replaced at once, then the rollout runs.
    assert app.click(message, "U0BOB", APPROVE).status == 200
    (update,) = slack.wait_for("chat.update")
    assert update.params["ts"] == message["ts"]
    assert not has_buttons(update.params["blocks"])
    assert "Approved by <@U0BOB> at" in texts(update.params["blocks"])

    # Progress in the request's thread, the summary with the digests, and the report there.
    (upload,) = slack.wait_for("files.completeUploadExternal", timeout=REQUEST_TIMEOUT)
    assert upload.params["thread_ts"] == message["ts"]
    (report,) = [c for c in slack.calls() if c.method.startswith("upload:")]
    assert "patch evidence" in report.params["content"] and "prod" in report.params["content"]
    thread = [c for c in slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert {c.params["thread_ts"] for c in thread} == {message["ts"]}
    end = thread[-1]
    assert end.params["reply_broadcast"] in (True, "true", "1")
    summary = texts(end.params["blocks"])
    assert "Before" in summary and "After" in summary and "(target)" in summary
    assert sim.calls["ecs:UpdateService"] > 0

    trail = request_trail(journal_path)
    assert trail == [
        ("request", "slack:U0ALICE"),
        ("refused", "slack:U0ALICE"),
        ("approval", "slack:U0BOB"),
        ("request_started", "slack:U0ALICE"),
    ]
    kinds = [kind for kind, _ in journal(journal_path)]
    assert "verified" in kinds
    assert all(actor == "slack:U0ALICE" for kind, actor in journal(journal_path) if kind == "plan")


def test_a_double_click_and_a_retry_approve_once_and_run_once(
    app: RunningApp, sim: Simulator, journal_path: Path
) -> None:
    app.command("U0ALICE", "rollout prod")
    message = request_message(app)
    answers: list[int] = []

    def click(headers: dict[str, str]) -> None:
        answers.append(app.click(message, "U0BOB", APPROVE, headers=headers).status)

    clicks = [
        threading.Thread(target=click, args=(h,))
        for h in ({}, {}, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    ]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert answers == [200, 200, 200]
    app.slack.wait_for("response_url:bob", count=2)  # the two that changed nothing: told so
    app.slack.wait_for("files.completeUploadExternal")
    app.launcher.join(REQUEST_TIMEOUT)
    kinds = [kind for kind, _ in journal(journal_path)]
    assert kinds.count("approval") == 1
    assert kinds.count("request_started") == 1
    assert kinds.count("plan") == 1
    assert len(app.slack.calls("files.completeUploadExternal")) == 1


@pytest.mark.parametrize(
    "tamper",
    ["missing signature", "wrong signature", "old timestamp"],
)
def test_a_request_not_signed_by_slack_is_refused_and_changes_nothing(
    app: RunningApp, journal_path: Path, tamper: str
) -> None:
    from tests.slack.slack_app import command_body

    body = command_body(app.slack, "U0ALICE", "rollout prod")
    now = str(int(time.time()))
    if tamper == "missing signature":
        answer = app.send(body, signature="")
    elif tamper == "wrong signature":
        answer = app.send(body, signature=sign(body, now, secret="not-the-secret"))
    else:
        old = str(int(time.time()) - 6 * 60)
        answer = app.send(body, timestamp=old, signature=sign(body, old))
    assert answer.status == 401
    app.launcher.join(5)
    assert [c.method for c in app.slack.calls()] == ["auth.test"]  # Bolt's start-up check
    assert not journal_path.exists() or journal(journal_path) == []


def test_people_outside_the_policy_are_refused_and_journaled(
    app: RunningApp, sim: Simulator, journal_path: Path
) -> None:
    # mallory is neither a requester nor an approver.
    app.command("U0MALLORY", "rollout prod")
    (refusal,) = app.slack.wait_for("response_url:mallory-command")
    assert "may not request or start changes of prod" in refusal.params["text"]
    assert app.slack.calls("chat.postMessage") == []

    app.command("U0ALICE", "rollout prod")
    message = request_message(app)
    app.click(message, "U0MALLORY", APPROVE)
    (refusal,) = app.slack.wait_for("response_url:mallory")
    assert "not in its approvals.approvers" in refusal.params["text"]
    assert sim.calls["ecs:UpdateService"] == 0
    assert request_trail(journal_path) == [
        ("refused", "slack:U0MALLORY"),
        ("request", "slack:U0ALICE"),
        ("refused", "slack:U0MALLORY"),
    ]


def test_an_expired_request_is_refused_and_its_buttons_go(
    sim: Simulator, tmp_path: Path, journal_path: Path, slack: FakeSlackApi
) -> None:
    with running_app(make_config(sim, tmp_path, expiry_hours=1), slack, sim) as app:
        app.command("U0ALICE", "rollout prod")
        message = request_message(app)
        sim.advance(3600)
        app.click(message, "U0BOB", APPROVE)
        (refusal,) = slack.wait_for("response_url:bob")
        assert "expired" in refusal.params["text"]
        (update,) = slack.wait_for("chat.update")
        assert not has_buttons(update.params["blocks"])
        assert "expired" in texts(update.params["blocks"])
    kinds = [kind for kind, _ in request_trail(journal_path)]
    assert kinds == ["request", "expired", "refused"]
    assert sim.calls["ecs:UpdateService"] == 0


def test_a_rejection_replaces_the_buttons(app: RunningApp, journal_path: Path) -> None:
    app.command("U0ALICE", "rollout prod")
    message = request_message(app)
    app.click(message, "U0DAN", REJECT)
    (update,) = app.slack.wait_for("chat.update")
    assert not has_buttons(update.params["blocks"])
    assert "Rejected by <@U0DAN>" in texts(update.params["blocks"])
    assert [k for k, _ in request_trail(journal_path)] == ["request", "rejected"]


def test_no_approval_needed_starts_after_the_plan(
    app: RunningApp, sim: Simulator, journal_path: Path
) -> None:
    app.command("U0MALLORY", "rollout dev")  # dev's policy: no approvals
    message = request_message(app)
    assert not has_buttons(message["blocks"])
    assert "No approval needed" in texts(message["blocks"])
    app.slack.wait_for("files.completeUploadExternal")
    with SqliteJournal(journal_path) as store:
        plans = store.entries(environment="dev", kind="plan")
    assert [e.actor for e in plans] == ["slack:U0MALLORY"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("deploy prod", "unknown command `deploy`"),
        ("rollout prdo", "unknown environment `prdo`"),
        ("promote dev", "usage: `/fleetpatch promote FROM TO`"),
        ("", ""),
    ],
)
def test_usage_for_what_is_not_a_command(app: RunningApp, text: str, said: str) -> None:
    answer = app.command("U0ALICE", text)
    assert answer.status == 200
    reply = answer.json()
    assert reply["response_type"] == "ephemeral"
    shown = texts(reply["blocks"])
    assert said in shown and "/fleetpatch rollout ENV" in shown
    app.launcher.join(5)
    assert app.slack.calls("chat.postMessage") == []


def test_slack_errors_lose_no_decision(app: RunningApp, journal_path: Path) -> None:
    slack = app.slack
    # The channel refuses the plan: the request is journaled and the requester told so.
    slack.fail("chat.postMessage", "not_in_channel")
    app.command("U0ALICE", "rollout prod")
    (told,) = slack.wait_for("response_url:alice-command", count=1)
    assert "is journaled" in told.params["text"] and "r-" in told.params["text"]
    assert [k for k, _ in request_trail(journal_path)] == ["request"]

    # Asked again: the same open request, posted; a rate-limited update is retried.
    app.command("U0ALICE", "rollout prod")
    message = posted(slack.wait_for("chat.postMessage", count=2)[-1])
    slack.rate_limit("chat.update", retry_after=1)
    app.click(message, "U0BOB", APPROVE)
    updates = slack.wait_for("chat.update", count=2)
    assert "Approved by <@U0BOB>" in texts(updates[-1].params["blocks"])
    slack.wait_for("files.completeUploadExternal")
    assert [k for k, _ in request_trail(journal_path)] == ["request", "approval", "request_started"]


def test_promote_with_four_eyes_then_rollback_from_slack(
    sim: Simulator, tmp_path: Path, journal_path: Path, slack: FakeSlackApi
) -> None:
    config = make_config(sim, tmp_path)
    path = config.source
    assert path is not None
    # dev's digest may be promoted as soon as it is verified: no soak to wait out.
    path.write_text(path.read_text() + "\n[policy]\nsoak_minutes = 0\n")
    with running_app(load_config(path), slack, sim) as app:
        app.command("U0MALLORY", "rollout dev")  # no approval needed in dev
        slack.wait_for("files.completeUploadExternal")  # its summary and report are posted

        app.command("U0ALICE", "promote dev prod")

        def with_buttons() -> list[dict[str, Any]]:
            return [
                posted(c)
                for c in slack.calls("chat.postMessage")
                if has_buttons(posted(c)["blocks"])
            ]

        wait_until(with_buttons, "the promote's plan with Approve / Reject")
        (message,) = with_buttons()
        assert "Promote" in texts(message["blocks"]) and "prod" in texts(message["blocks"])
        assert app.click(message, "U0BOB", APPROVE).status == 200
        slack.wait_for("files.completeUploadExternal", 2)
        with SqliteJournal(journal_path) as store:
            prod = store.entries(environment="prod")
        assert [e.actor for e in prod if e.kind.value == "promote"] == ["slack:U0ALICE"]
        assert any(e.kind.value == "verified" for e in prod)
        assert [k for k, _ in request_trail(journal_path)] == [
            "request",
            "approval",
            "request_started",
        ]

        app.command("U0MALLORY", "rollback dev")
        slack.wait_for("files.completeUploadExternal", 3)
        with SqliteJournal(journal_path) as store:
            dev = store.entries(environment="dev")
        completed = [e for e in dev if e.kind.value == "rollback_completed"]
        assert [e.actor for e in completed] == ["slack:U0MALLORY"]
