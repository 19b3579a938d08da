"""Whatever starts a run goes through the Runner, and the Runner notifies: a rollback run by
the Runner (as the Slack app will) posts under an existing thread; a missing token is one
pre-flight line before anything moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetpatch.cli.app import run
from fleetpatch.config import Config
from fleetpatch.notify import Notifier, RunContext, SlackPoster, slack_client
from fleetpatch.rollout.rollback import rollback
from fleetpatch.sim import Simulator
from tests.inventory.helpers import render_config
from tests.rollout.flows import digest_of, sim_config, sim_journal, sim_runner
from tests.rollout.helpers import Crash, CrashAfter, make_plan, run_rollout
from tests.slack.fake_api import FakeSlackApi

TOKEN = "xoxb-3333-4444-anothersecret"


def test_a_rollback_posts_its_progress_under_an_existing_thread(
    sim: Simulator, tmp_path: Path
) -> None:
    config = sim_config(sim, tmp_path)
    old, new = digest_of(sim, "1.0-aaaaaaa"), digest_of(sim, "1.1-bbbbbbb")
    with FakeSlackApi() as slack, sim_journal(sim, tmp_path) as journal:
        client = slack_client(TOKEN, slack.base_url)
        request = client.chat_postMessage(channel="C0REQUEST", text="fleetpatch rollback dev?")

        def under_the_request(config: Config, run: RunContext) -> Notifier:
            return Notifier(run, SlackPoster(client, "C0REQUEST", thread_ts=request["ts"]))

        runner = sim_runner(sim, config, journal, notifier=under_the_request, actor="U0ALICE")
        result, _ = run_rollout(sim, config, journal)  # no notifier: straight on the executor
        assert result.ok
        assert len(slack.calls("chat.postMessage")) == 1  # only the request

        undone = rollback(runner, "dev")
        assert undone.rollout.ok

    start, *rest = slack.calls("chat.postMessage")[1:]
    assert {c.params["thread_ts"] for c in [start, *rest]} == {request["ts"]}
    assert start.params["reply_broadcast"] in (False, "0", "false")
    assert (
        start.params["text"].startswith("Rollback ")
        and "started by U0ALICE" in (start.params["text"])
    )
    end = rest[-1]
    assert end.params["reply_broadcast"] in (True, "1", "true")
    assert "Rollback" in end.params["text"] and "3 verified" in end.params["text"]
    assert old in end.params["text"] and new[:15] in end.params["text"]


def test_a_channel_without_token_is_one_preflight_line_and_nothing_is_posted(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    path = render_config(sim, tmp_path / "fleetpatch.toml")
    path.write_text(path.read_text() + '\n[notifications.slack]\nchannel = "C0123ABCD"\n')
    with FakeSlackApi() as slack:
        monkeypatch.setenv("SLACK_API_URL", slack.base_url)
        code = run(["--config", str(path), "rollout", "--env", "dev", "--dry-run"])
        assert code == 0
        assert "SLACK_BOT_TOKEN" not in capsys.readouterr().err  # a dry run posts nothing
        assert run(["--config", str(path), "rollout", "--env", "dev"]) == 2  # no --yes
        err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "SLACK_BOT_TOKEN" in line]
    assert "pre-flight warning: notifications:" in line and "C0123ABCD" in line
    assert "pass --yes" in err  # the warning came before the question, before any change
    assert not slack.calls()


def test_a_run_that_dies_midway_says_so_in_its_thread(sim: Simulator, tmp_path: Path) -> None:
    config = sim_config(sim, tmp_path)
    with FakeSlackApi() as slack, sim_journal(sim, tmp_path) as journal:

        def to_slack(config: Config, run: RunContext) -> Notifier:
            return Notifier(run, SlackPoster(slack_client(TOKEN, slack.base_url), "C0123ABCD"))

        runner = sim_runner(sim, config, journal, notifier=to_slack, sink=CrashAfter("verified"))
        with pytest.raises(Crash), runner.locked("dev") as lock:
            runner.execute(make_plan(config), lock)
    start, stopped = slack.calls("chat.postMessage")
    assert stopped.params["thread_ts"] == start.answer["ts"]
    assert stopped.params["reply_broadcast"] in (True, "1", "true")
    assert "stopped before its end: Crash: verified" in stopped.params["text"]
    assert "run the command again to resume" in stopped.params["text"]
