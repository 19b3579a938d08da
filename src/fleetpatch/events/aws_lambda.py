"""The EventBridge handler: `fleetpatch.events.aws_lambda.handler` (docs/automation.md).

    FLEETPATCH_CONFIG=/var/task/fleetpatch.toml
    FLEETPATCH_STATE_MACHINE_ARN=arn:aws:states:...:stateMachine:fleetpatch-rollout
    SLACK_BOT_TOKEN (or FLEETPATCH_SLACK_SECRET), SLACK_API_URL: as for notifications

Each event is parsed (shapes.py), matched to the sidecar and environments it concerns,
observed (observe.py), decided (decide.py, pure) and acted on (act.py); every decision is one
line in the function's log (logger `fleetpatch.events`).

What becomes of an event:
- not one fleetpatch acts on, or for another repository, tag or registry: ignored, one log
  line, the invocation succeeds;
- malformed (not the shape AWS documents): one log line and dropped - the invocation succeeds,
  so Lambda's asynchronous retries don't replay what can never succeed;
- an AWS error while reading or starting (throttled, 5xx, access denied, a missing state
  machine): one log line, then raised, so the invocation fails and Lambda retries it (twice
  by default, then its on-failure destination). A retry is safe: starts are idempotent
  (the execution name is the rollout id) and a request already open is not made again.
- a mistake in the config or the function's environment: one log line, raised.

`make_handler(stepfunctions=..., environ=..., now=..., config=...)` builds a handler with other
parts (tests: the simulator's Step Functions, a fake Slack, the simulator's clock).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.aws.errors import explain
from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config, load_config
from fleetpatch.errors import UserError
from fleetpatch.events.act import Effects
from fleetpatch.events.decide import Concern, Ignore, StartRollout, concerned, decide, expand
from fleetpatch.events.observe import observe
from fleetpatch.events.shapes import MalformedEvent, Unrecognized, parse_event
from fleetpatch.journal import open_journal
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.notify.slack import API_URL_VARIABLE, slack_client
from fleetpatch.secrets import slack_secrets
from fleetpatch.slack.replies import Replies

STATE_MACHINE_VARIABLE = "FLEETPATCH_STATE_MACHINE_ARN"

log = logging.getLogger("fleetpatch.events")
# Each decision is an INFO line: shown in the function's log whatever the root logger's level.
log.setLevel(logging.INFO)

Handler = Callable[[Any, Any], Any]


def make_handler(
    *,
    stepfunctions: Any = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = utc_now,
    config: Callable[[], Config] = load_config,
) -> Handler:
    def handle(event: Any, context: Any) -> dict[str, Any]:
        event_id = event.get("id") if isinstance(event, Mapping) else None
        try:
            parsed = parse_event(event)
        except MalformedEvent as exc:
            log.warning("dropped malformed event %s: %s", event_id or "(no id)", exc)
            return {"outcome": "dropped", "reason": str(exc)}
        if isinstance(parsed, Unrecognized):
            log.info("ignored event %s: %s", event_id, parsed.reason)
            return {"outcome": "ignored", "reason": parsed.reason}
        try:
            loaded = config()
            lines: list[str] = []
            for one in expand(parsed, loaded):
                concern = concerned(one, loaded)
                if isinstance(concern, Ignore):
                    log.info("ignored event %s: %s", event_id, concern.reason)
                    return {"outcome": "ignored", "reason": concern.reason}
                lines += _run(one, loaded, concern, stepfunctions, environ, now)
        except UserError as exc:
            log.error("event %s not handled: %s", event_id, exc)
            raise
        except (ClientError, BotoCoreError) as exc:
            failure = explain("AWS", exc)
            said = str(failure) if failure is not None else f"{type(exc).__name__}: {exc}"
            log.error("event %s not handled, Lambda retries it: %s", event_id, said)
            raise
        for line in lines:
            log.info("event %s: %s", event_id, line)
        return {"outcome": "handled", "actions": lines}

    return handle


def _run(
    event: Any,
    config: Config,
    concern: Concern,
    stepfunctions: Any,
    environ: Mapping[str, str] | None,
    now: Callable[[], datetime],
) -> list[str]:
    environ = os.environ if environ is None else environ
    sessions = AwsSessions(config)
    with open_journal(config.journal, clock=now) as journal:
        facts = observe(event, config, concern, journal, sessions, now)
        actions = decide(event, config, facts)
        arn = environ.get(STATE_MACHINE_VARIABLE, "")
        if not arn and any(isinstance(a, StartRollout) for a in actions):
            raise UserError(
                f"{STATE_MACHINE_VARIABLE} is not set: set it to the rollout state machine's "
                "ARN in the function's environment (deploy/template.yaml does)"
            )
        effects = Effects(
            config,
            journal,
            sessions,
            stepfunctions if stepfunctions is not None else _stepfunctions(arn),
            arn,
            _replies(environ),
            now,
        )
        return [effects.run(action) for action in actions]


def _replies(environ: Mapping[str, str]) -> Replies | None:
    try:
        secrets = slack_secrets(environ)
        secrets.require("bot_token")
    except UserError:
        return None  # posts say "not posted: no Slack bot token", the rest goes on
    assert secrets.bot_token is not None
    return Replies(slack_client(secrets.bot_token, environ.get(API_URL_VARIABLE)))


def _stepfunctions(arn: str) -> Any:
    import boto3

    from fleetpatch.aws.session import client_config

    # The state machine's own Region (arn:aws:states:REGION:...), with the function's role.
    region = arn.split(":")[3] if arn.count(":") >= 6 else None
    return boto3.client("stepfunctions", region_name=region, config=client_config(max_attempts=3))


handler = make_handler()
