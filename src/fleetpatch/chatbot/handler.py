"""The Lambda handler for AWS Chatbot: `fleetpatch.chatbot.handler.handler`.

    FLEETPATCH_CONFIG=/var/task/fleetpatch.toml     # the function's environment (docs/chatbot.md)

Each invocation loads the config, answers a chat command in plain text, or runs the rollout
job an earlier invocation handed off (InvocationType=Event, to the same function ARN, so the
job runs the same version of the code). A config that cannot be loaded is the reply's one
line, as the CLI would print it.

`make_handler(lambda_client=..., clock=..., now=...)` builds a handler with other parts; the
tests give it a Lambda client that replays the asynchronous invocation in-process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fleetpatch.chatbot.commands import Chatbot
from fleetpatch.chatbot.launcher import LambdaLauncher
from fleetpatch.config import load_config
from fleetpatch.errors import UserError
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.waits import Clock, RealClock
from fleetpatch.workflow.handoff import handoff_from_environment

Handler = Callable[[Any, Any], Any]


def make_handler(
    *,
    lambda_client: Any = None,
    clock: Callable[[], Clock] = RealClock,
    now: Callable[[], datetime] = utc_now,
    options: Callable[[], RolloutOptions] = RolloutOptions,
) -> Handler:
    def handle(event: Any, context: Any) -> Any:
        try:
            config = load_config()
        except UserError as exc:
            return f"error: {exc}"
        client = lambda_client if lambda_client is not None else _lambda_client()
        launcher = LambdaLauncher(client, context.invoked_function_arn)
        try:
            handoff = handoff_from_environment(os.environ, "chatbot")
        except UserError as exc:
            return f"error: {exc}"
        bot = Chatbot(config, launcher, clock=clock(), now=now, options=options(), handoff=handoff)
        return bot.handle(event)

    return handle


def _lambda_client() -> Any:
    import boto3

    from fleetpatch.aws.session import client_config

    # The function's own Region and role (the Lambda runtime's environment).
    return boto3.client("lambda", config=client_config(max_attempts=3))


handler = make_handler()
