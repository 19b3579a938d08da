"""The Lambda handler of the workflows' steps: `fleetpatch.workflow.aws_lambda.handler`.

    FLEETPATCH_CONFIG=/var/task/fleetpatch.toml     # the function's environment (docs/deploy.md)

The state machines (rollout.asl.json, wave.asl.json) invoke this one function for every step,
naming it: {"step": "plan", "request": {...}}, {"step": "poll_wave", ...}. Each invocation
loads the config, opens the journal the config names (on AWS: its DynamoDB table), runs the
step and returns what the next state reads. The engine's events go to the function's log, one
JSON object per line.

Errors, and what Step Functions does with them (the definitions' Retry):
- TransientStepError (AWS throttled or failed, 5xx): retried with backoff.
- An AWS error that is not transient, inside a pass: not an error at all - the pass halts
  the rollout and journals why, in AWS's words (steps.py).
- Anything else (a step input that is not one, a lock taken over by `fleetpatch abort`, a
  bug): the step fails and so does the execution, saying why; nothing retries it forever.
  Once fixed, `aws stepfunctions redrive-execution` resumes from that step (docs/workflow.md).

`make_handler(now=..., notifier=...)` builds a handler with other parts (tests).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fleetpatch.config import Config, load_config
from fleetpatch.errors import UserError
from fleetpatch.journal import open_journal
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.notify import Notifier, RunContext, configured_notifier
from fleetpatch.rollout.events import JsonLinesSink
from fleetpatch.workflow.steps import RolloutSteps

Handler = Callable[[Any, Any], Any]
Step = Callable[[RolloutSteps, dict[str, Any]], dict[str, Any]]

ROLLOUT_STEPS: dict[str, Step] = {
    "plan": lambda steps, event: steps.plan(dict(event["request"])),
    "start_wave": RolloutSteps.start_wave,
    "poll_wave": RolloutSteps.poll_wave,
    "judge_wave": RolloutSteps.judge_wave,
    "halt_wave": RolloutSteps.halt_wave,
    "finish": RolloutSteps.finish,
}


def make_handler(
    *,
    now: Callable[[], datetime] = utc_now,
    notifier: Callable[[Config, RunContext], Notifier | None] = configured_notifier,
    config: Callable[[], Config] = load_config,
) -> Handler:
    def handle(event: Any, context: Any) -> Any:
        step = event.get("step") if isinstance(event, dict) else None
        run = ROLLOUT_STEPS.get(step) if isinstance(step, str) else None
        if run is None:
            raise UserError(f"not a fleetpatch workflow step: {step!r}")
        loaded = config()
        with open_journal(loaded.journal, clock=now) as journal:
            context_fields = {
                "rollout_id": event.get("rollout_id") or event.get("request", {}).get("rollout_id")
            }
            steps = RolloutSteps(
                loaded,
                journal,
                now=now,
                sink=JsonLinesSink(sys.stdout, **context_fields),
                notifier=notifier,
            )
            try:
                return run(steps, event)
            except KeyError as exc:
                raise UserError(f"the {step} step's input has no {exc}") from None

    return handle


handler = make_handler()
