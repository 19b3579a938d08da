"""SlackPoster against the fake Slack Web API: threads, and each of Slack's errors as one line
naming the error and the fix, never an exception, never the token."""

from __future__ import annotations

import socket

import pytest

from fleetpatch.notify import Message, SlackPoster, slack_client
from fleetpatch.notify.blocks import section
from tests.slack.fake_api import FakeSlackApi

TOKEN = "xoxb-5555-6666-yetanothersecret"


def message(kind: str = "start") -> Message:
    return Message(kind, f"the {kind}", (section(f"*the {kind}*"),))  # type: ignore[arg-type]


def test_a_run_in_an_existing_thread_replies_there_and_broadcasts_its_end() -> None:
    with FakeSlackApi() as slack:
        poster = SlackPoster(slack_client(TOKEN, slack.base_url), "C0REQ", "1700000000.000777")
        for kind in ("start", "wave", "end"):
            poster.post(message(kind))
    posts = slack.calls("chat.postMessage")
    assert [p.params["thread_ts"] for p in posts] == ["1700000000.000777"] * 3
    assert [p.params["reply_broadcast"] for p in posts][-1] in (True, "1", "true")
    assert all(p.params["reply_broadcast"] in (False, "0", "false") for p in posts[:2])


@pytest.mark.parametrize(
    ("error", "says"),
    [
        ("token_revoked", "SLACK_BOT_TOKEN"),
        ("invalid_auth", "reinstall the app"),
        ("not_in_channel", "/invite"),
        ("channel_not_found", "channel's ID"),
        ("missing_scope", "chat:write"),
    ],
)
def test_an_error_every_later_post_would_meet_is_said_once(
    error: str, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeSlackApi() as slack:
        slack.fail("chat.postMessage", error)
        poster = SlackPoster(slack_client(TOKEN, slack.base_url), "C0123ABCD")
        for kind in ("start", "wave", "end"):
            poster.post(message(kind))
        assert len(slack.calls("chat.postMessage")) == 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert error in line and says in line and TOKEN not in line


def test_blocks_slack_refuses_are_sent_again_as_text(caplog: pytest.LogCaptureFixture) -> None:
    with FakeSlackApi() as slack:
        slack.fail("chat.postMessage", "invalid_blocks")
        poster = SlackPoster(slack_client(TOKEN, slack.base_url), "C0123ABCD")
        poster.post(message("start"))
        poster.post(message("wave"))
    first, again, wave = slack.calls("chat.postMessage")
    assert "blocks" in first.params and "blocks" not in again.params
    assert again.params["text"] == "the start"
    assert wave.params["thread_ts"] == again.answer["ts"]
    assert len(caplog.records) == 1


def test_a_rate_limit_past_its_retries_drops_that_message_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeSlackApi() as slack:
        for _ in range(3):  # the first try and both retries
            slack.rate_limit("chat.postMessage", retry_after=0)
        poster = SlackPoster(slack_client(TOKEN, slack.base_url), "C0123ABCD")
        poster.post(message("start"))
        poster.post(message("wave"))
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 4 and posts[-1].params["text"] == "the wave"
    (line,) = [r.getMessage() for r in caplog.records]
    assert "rate limit" in line and "dropped" in line


def test_slack_out_of_reach_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    poster = SlackPoster(slack_client(TOKEN, f"http://127.0.0.1:{port}/api"), "C0123ABCD")
    poster.post(message("start"))
    (line,) = [r.getMessage() for r in caplog.records]
    assert "could not reach Slack" in line and "SLACK_API_URL" in line and TOKEN not in line
