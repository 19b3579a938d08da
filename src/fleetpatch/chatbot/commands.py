"""What a Chatbot command does, and the text it answers with.

AWS Chatbot runs `@aws lambda invoke --function-name NAME --payload {"command": "plan dev"}`
as the AWS CLI would: the function gets exactly that JSON, nothing about who typed it, and
the channel shows what the function returns. So:
- `status`, `plan ENV`: read the fleet and answer (well within the 15 seconds);
- `rollout ENV`, for an environment whose policy needs no approval: plan, hand the run to an
  asynchronous invocation of the same function (worker.py), answer how to follow it;
- a rollout, promote or rollback that needs approval: refused, journaled, with the reason:
  Chatbot passes no Slack identity, so it can neither request nor approve;
- anything else: the usage text.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleetpatch.aws.session import AwsSessions
from fleetpatch.chatbot.launcher import Launcher
from fleetpatch.chatbot.render import plan_text, status_text
from fleetpatch.config import Action, Config
from fleetpatch.config.approvals import ACTIONS
from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.journal import EntryKind, NewEntry, open_journal
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.rollout.executor import RolloutOptions, new_rollout_id
from fleetpatch.rollout.runner import Handoff
from fleetpatch.rollout.waits import Clock, RealClock

VIA = "AWS Chatbot"
# The worker's payload: what the handler recognises as a job rather than a chat command.
JOB_KEY = "fleetpatch_job"
GATED: tuple[Action, ...] = ACTIONS
NO_IDENTITY = (
    "AWS Chatbot passes no Slack identity to this function, so from here nobody can request "
    "or approve a change"
)


@dataclass(frozen=True)
class ChatCommand:
    name: str  # status | plan | rollout | promote | rollback | help
    environment: str | None = None
    extra: tuple[str, ...] = ()


def parse_command(event: Any) -> ChatCommand | None:
    """`{"command": "plan dev"}` (or the bare JSON string "plan dev") -> ChatCommand; None
    when the payload is not a command at all."""
    text = event.get("command") if isinstance(event, Mapping) else event
    if not isinstance(text, str):
        return None
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if not words:
        return ChatCommand("help")
    name, rest = words[0].lower(), tuple(words[1:])
    return ChatCommand(name, rest[0] if rest else None, rest[1:])


@dataclass
class Chatbot:
    """One function's commands and worker. `clock`, `now` and `options`: how the worker's
    rollout waits (tests: the simulator's clock)."""

    config: Config
    launcher: Launcher
    clock: Clock = field(default_factory=RealClock)
    now: Callable[[], datetime] = utc_now
    options: RolloutOptions = field(default_factory=RolloutOptions)
    # Where a started rollout's waves run: None = the worker's invocation; the rollout
    # state machine when the stack names it (workflow/handoff.py).
    handoff: Handoff | None = None

    def handle(self, event: Any) -> Any:
        """The Lambda payload in, the reply (text) or the worker's result out."""
        if isinstance(event, Mapping) and JOB_KEY in event:
            from fleetpatch.chatbot.worker import run_job

            return run_job(self, event)
        command = parse_command(event)
        if command is None:
            return self.usage('the payload has no "command"')
        try:
            return self.answer(command)
        except (UserError, EnvironmentFailure) as exc:
            return f"error: {exc}"

    def answer(self, command: ChatCommand) -> str:
        if command.name == "status" and command.environment is None:
            return self.status()
        if command.name in ("plan", *GATED) and command.environment is not None:
            if command.environment not in self.config.environment_names:
                return self.usage(f"no environment {command.environment!r}")
            if command.name == "plan" and not command.extra:
                return self.plan(command.environment)
            if command.name == "rollout" and not command.extra:
                return self.rollout(command.environment)
            if command.name in GATED:
                return self.refuse_gated(command)
        if command.name in ("help", "usage"):
            return self.usage(None)
        return self.usage(f"unknown command {' '.join(_words(command))!r}")

    # --- the commands -------------------------------------------------------------------------

    def status(self) -> str:
        from fleetpatch.cli import context
        from fleetpatch.cli.inventory_csv import iso_utc
        from fleetpatch.compliance.status import status_deadlines
        from fleetpatch.core.summary import summarize
        from fleetpatch.inventory.collect import collect

        answers = context.answer_cache(self.config)
        snapshot = collect(self.config, None, clock=self.now, answers=answers)
        deadlines = status_deadlines(self.config, snapshot)
        lines = [*deadlines.lines, *(f"warning: {w}" for w in deadlines.warnings)]
        return status_text(summarize(snapshot), lines, iso_utc(snapshot.taken_at))

    def plan(self, environment: str) -> str:
        return plan_text(self._plan(environment))

    def rollout(self, environment: str) -> str:
        needed = self.config.environment(environment).approvals.needed("rollout")
        if needed:
            return self.refuse_gated(ChatCommand("rollout", environment))
        the_plan = self._plan(environment)
        if not the_plan.waves:
            return f"{plan_text(the_plan)}\nnothing to roll out: {environment} runs the target"
        rollout_id = new_rollout_id()
        self.launcher.start(
            {
                JOB_KEY: "rollout",
                "environment": environment,
                "sidecar": the_plan.sidecar,
                "digest": the_plan.target.digest,
                "rollout_id": rollout_id,
            }
        )
        follow = f"follow it: fleetpatch history --env {environment}"
        channel = self.config.notifications.slack_channel(environment)
        if channel is not None:
            follow += f", progress in the Slack channel <#{channel}>"
        return "\n".join(
            [
                plan_text(the_plan),
                f"started: rollout {rollout_id} of {the_plan.target.label} to {environment} "
                "runs in the background (it does not fit Chatbot's 15 seconds).",
                f'{follow}, or @aws lambda invoke with {{"command": "status"}}',
            ]
        )

    def refuse_gated(self, command: ChatCommand) -> str:
        """Journaled as `refused`: who (the function's role), what and why."""
        environment = command.environment or ""
        action = next(a for a in GATED if a == command.name)
        needed = self.config.environment(environment).approvals.needed(action)
        if needed:
            reason = f"{action} of {environment} needs {needed} approval(s), and {NO_IDENTITY}"
            how = (
                f"use the fleetpatch Slack app (/fleetpatch {action} {environment}) or the CLI "
                f"(fleetpatch {action} --env {environment}, then fleetpatch approve)"
            )
        else:
            reason = f"{' '.join(_words(command))} is not offered from AWS Chatbot"
            how = f"use the CLI (fleetpatch {action} --help) or the fleetpatch Slack app"
        self._journal_refusal(environment, action, reason)
        return f"refused: {reason}: {how}"

    def usage(self, problem: str | None) -> str:
        names = ", ".join(self.config.environment_names)
        lines = [f"fleetpatch: {problem}" if problem else "fleetpatch from AWS Chatbot"]
        lines += [
            'usage: @aws lambda invoke --function-name FUNCTION --payload {"command": "COMMAND"}',
            "  status        what runs where, drift, patch deadlines",
            "  plan ENV      what a rollout of ENV would deploy, in waves",
            "  rollout ENV   start that rollout (only where no approval is needed)",
            f"environments: {names}",
            f"approvals, promote and rollback: the fleetpatch Slack app or the CLI ({NO_IDENTITY})",
        ]
        return "\n".join(lines)

    # --- helpers ------------------------------------------------------------------------------

    def _plan(self, environment: str) -> Any:
        from fleetpatch.cli.rollout import build_plan

        return build_plan(self.config, environment, None, None, None, "tag", self.now)

    def identity(self, environment: str, sessions: AwsSessions | None = None) -> str:
        """The journal's actor: the function's IAM identity (sts:GetCallerIdentity) in the
        environment, as the CLI names its users."""
        sessions = sessions or AwsSessions(self.config)
        return f"iam:{sessions.get(environment).caller_arn()}"

    def _journal_refusal(self, environment: str, action: str, reason: str) -> None:
        actor = self.identity(environment)
        with open_journal(self.config.journal, clock=self.now) as journal:
            journal.append(
                NewEntry(
                    kind=EntryKind.REFUSED,
                    environment=environment,
                    actor=actor,
                    details={"attempted": action, "reason": reason, "via": VIA},
                )
            )


def _words(command: ChatCommand) -> list[str]:
    return [command.name, *([command.environment] if command.environment else []), *command.extra]
