"""The Slack app: one Bolt `App`, whatever runs it (`fleetpatch slack serve`, Socket Mode,
AWS Lambda). Secrets are passed in, never read here.

    app = build_app(config, bot_token=token, signing_secret=secret)       # HTTP, threads
    app = build_app(config, bot_token=token, signing_secret=secret,
                    process_before_response=True, launcher=LambdaLauncher(...))  # FaaS

Each listener acknowledges at once (Slack's 3 seconds: the ack only parses the command text)
and does its work in a lazy listener (worker.py), which Bolt runs after the acknowledgement
(a thread here; another invocation in Lambda). Bolt verifies every request's signature and
timestamp first (X-Slack-Signature, X-Slack-Request-Timestamp within 5 minutes): anything else
is answered 401 and reaches no listener.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App

from fleetpatch.config import Config, load_config
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.notify.slack import slack_client
from fleetpatch.rollout.runner import Handoff
from fleetpatch.slack.blocks import APPROVE, REJECT, usage
from fleetpatch.slack.commands import Usage, parse
from fleetpatch.slack.jobs import Launcher, ThreadLauncher
from fleetpatch.slack.worker import Worker

COMMAND = "/fleetpatch"
log = logging.getLogger("fleetpatch.slack")


def build_worker(
    config: Config | Path | str | None,
    *,
    bot_token: str,
    api_url: str | None = None,
    launcher: Launcher | None = None,
    now: Callable[[], datetime] = utc_now,
    poll_interval: float = 5.0,
    handoff: Handoff | None = None,
) -> Worker:
    """The worker alone: what a launcher elsewhere needs to run a job (`run_job`);
    `handoff`: where the job's waves run (None: here)."""
    loaded = config if isinstance(config, Config) else load_config(_path(config))
    client = slack_client(bot_token, api_url)
    return Worker(
        loaded,
        client,
        launcher or ThreadLauncher(),
        now=now,
        poll_interval=poll_interval,
        handoff=handoff,
    )


def build_app(
    config: Config | Path | str | None,
    *,
    bot_token: str,
    signing_secret: str,
    api_url: str | None = None,
    process_before_response: bool = False,
    launcher: Launcher | None = None,
    now: Callable[[], datetime] = utc_now,
    poll_interval: float = 5.0,
) -> App:
    """The Bolt app for `config` (a Config, or the path of fleetpatch.toml; None: found as
    the CLI finds it). `api_url`: the Slack Web API base URL (SLACK_API_URL); `launcher`:
    where runs go (default: a thread each); `now`: the wall clock (tests: the simulator's)."""
    worker = build_worker(
        config,
        bot_token=bot_token,
        api_url=api_url,
        launcher=launcher,
        now=now,
        poll_interval=poll_interval,
    )
    return register(_app(worker, signing_secret, process_before_response), worker)


def _app(worker: Worker, signing_secret: str, process_before_response: bool) -> App:
    return App(
        client=worker.client,
        signing_secret=signing_secret,
        process_before_response=process_before_response,
        # auth.test at start: a wrong token fails at once, not at the first command.
        token_verification_enabled=True,
        logger=log,
    )


def register(app: App, worker: Worker) -> App:
    environments = worker.environments

    def ack_command(ack: Ack, body: dict[str, Any]) -> None:
        parsed = parse(
            str(body.get("text") or ""), environments, str(body.get("command") or COMMAND)
        )
        if isinstance(parsed, Usage):
            reply = usage(parsed.problem, parsed.help)
            ack(text=reply.text, blocks=list(reply.blocks), response_type="ephemeral")
            return
        ack(text=f"Working on `{parsed.text}`…", response_type="ephemeral")

    def run_command(body: dict[str, Any], respond: Any) -> None:
        worker.command(body, respond)

    def ack_button(ack: Ack) -> None:
        ack()

    def run_approve(body: dict[str, Any], respond: Any) -> None:
        worker.approve(body, respond)

    def run_reject(body: dict[str, Any], respond: Any) -> None:
        worker.reject(body, respond)

    app.command(COMMAND)(ack=ack_command, lazy=[run_command])
    app.action(APPROVE)(ack=ack_button, lazy=[run_approve])
    app.action(REJECT)(ack=ack_button, lazy=[run_reject])
    return app


def _path(config: Path | str | None) -> Path | None:
    return Path(config) if config is not None else None
