"""Every rollout tells the team in Slack (issue 10 item 5): a CLI rollout on the simulator
posts its start, each wave and its end in one thread; a halt in ECS's words; Slack's errors
never fail the rollout; the bot token is in no output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config
from tests.slack.fake_api import Call, FakeSlackApi

TOKEN = "xoxb-1111-2222-secretsecretsecret"
CHANNEL = "C0123ABCD"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as api:
        monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("SLACK_API_URL", api.base_url)
        yield api


def fast_sim(**overrides: Any) -> Simulator:
    """Time runs at 600x: a 30-s task start takes 50 ms of the CLI's real-time polling."""
    return Simulator(small_scenario(**overrides), time_scale=600)


def notifying_config(sim: Simulator, tmp_path: Path, extra: str = "") -> Path:
    path = render_config(sim, tmp_path / "fleetpatch.toml")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f'\n[notifications.slack]\nchannel = "{CHANNEL}"\n{extra}')
    return path


def rollout(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *more: str) -> int:
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    return run(
        ["--config", str(config), "rollout", "--env", "dev", "--yes", "--poll-interval", "0.05",
         *more]
    )  # fmt: skip


def text_of(call: Call) -> str:
    """Everything a person reads in a message: the fallback and every block's text."""
    return call.params["text"] + "\n" + json.dumps(call.params.get("blocks", []))


def test_a_rollout_posts_start_waves_and_end_in_one_thread(
    slack: FakeSlackApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with fast_sim() as sim:
        before = next(d for d, (_, _, first) in sim.images.items() if first == "1.0-aaaaaaa")
        target = next(d for d, (_, _, first) in sim.images.items() if first == "1.1-bbbbbbb")
        assert rollout(notifying_config(sim, tmp_path), tmp_path, monkeypatch) == 0

    posts = slack.calls("chat.postMessage")
    start, *replies = posts
    # The start in the channel; waves (canary, then the rest) and the end in its thread.
    assert start.params["channel"] == CHANNEL and "thread_ts" not in start.params
    thread = start.answer["ts"]
    assert [p.params.get("thread_ts") for p in replies] == [thread] * len(replies)
    assert len(replies) == 3  # wave 1, wave 2, end
    start_text = text_of(start)
    assert "Rollout dev: fluent-bit" in start_text and "1.1-bbbbbbb" in start_text
    assert target in start_text and "main/api" in start_text and "Wave 2" in start_text
    wave_1, wave_2, end = replies
    assert "Wave 1 (canary) of 2 done: 1 verified, 0 failed" in wave_1.params["text"]
    assert "Wave 2 of 2 done: 2 verified, 0 failed" in wave_2.params["text"]
    # The end goes to the channel too, with the digests before and after.
    assert end.params["reply_broadcast"] in (True, "1", "true")
    assert "finished: 3 verified, 0 failed, 0 skipped" in end.params["text"]
    assert before[:15] in text_of(end) and target in text_of(end)
    assert "on 3 (target)" in text_of(end)
    assert all(c.token == TOKEN for c in slack.calls())
    output = capsys.readouterr()
    assert TOKEN not in output.out + output.err
    assert TOKEN.encode() not in (tmp_path / "journal.sqlite").read_bytes()


def test_a_halted_rollout_posts_the_halt_in_ecs_words(
    slack: FakeSlackApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fast_sim() as sim:
        sim.fail_service("dev", "main", "api", "CannotStartContainerError: bad config")
        assert rollout(notifying_config(sim, tmp_path), tmp_path, monkeypatch) == 1

    posts = slack.calls("chat.postMessage")
    kinds = [p.params["text"].split(":")[0] for p in posts]
    assert len(posts) == 4, kinds  # start, wave 1, halt, end
    wave_1, halt, end = posts[1:]
    assert "Wave 1 (canary) of 2 done: 0 verified, 1 failed" in wave_1.params["text"]
    halt_text = text_of(halt)
    assert "halted in wave 1" in halt_text
    # ECS's own words: why the tasks stopped, and that ECS rolled the service back.
    assert "CannotStartContainerError: bad config" in halt_text
    assert "ECS rolled it back: yes" in halt_text
    # The two services of wave 2 never started: journaled skipped, counted as such.
    assert "halted in wave 1: 0 verified, 1 failed, 2 skipped" in end.params["text"]
    assert end.params["reply_broadcast"] in (True, "1", "true")


def test_slack_errors_never_fail_the_rollout_and_a_rate_limit_is_retried(
    slack: FakeSlackApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack.rate_limit("chat.postMessage", retry_after=0)
    with fast_sim() as sim:
        config = notifying_config(sim, tmp_path)
        assert rollout(config, tmp_path, monkeypatch) == 0
        # The 429 answered the start; it was posted once Slack let it through.
        posts = slack.calls("chat.postMessage")
        assert len(posts) == 5 and posts[0].params == posts[1].params
        assert not caplog.records

        # Next run: the channel is gone. One line says so and how to fix it; nothing else
        # is tried, and the rollout (nothing left to do but verify) still succeeds.
        slack.fail("chat.postMessage", "channel_not_found")
        sim.push_image("dev", "fluent-bit", {"tags": ["1.2-ccccccc", "latest"]})
        assert rollout(config, tmp_path, monkeypatch) == 0
    assert len(slack.calls("chat.postMessage")) == 6
    (line,) = [r.getMessage() for r in caplog.records]
    assert "channel_not_found" in line and CHANNEL in line and "channel's ID" in line
    output = capsys.readouterr()
    assert TOKEN not in output.out + output.err + caplog.text
