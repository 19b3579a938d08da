"""Carrying out decide.py's actions: start the rollout's execution, ask for approval, post.

    effects = Effects(config, journal, sessions, stepfunctions, state_machine_arn, slack)
    line = effects.run(action)        # what happened, one line for the log

- StartRollout: StartExecution of the rollout state machine, named by the rollout id, with
  the input contracts.md fixes. ExecutionAlreadyExists means this environment already got an
  execution for this digest (a redelivered event, the push then the scan, the schedule every
  hour): already started, nothing to do. Any other AWS error is raised, so that Lambda
  retries the event (the starts before it are then "already started").
- RequestApproval: the plan exactly as a rollout would make it (slack/actions.py `plan_of`:
  accounts, lock, plan, requires, pre-flight), one change request for it (the approval desk,
  requested by this function's IAM identity in that account), posted to the environment's
  Slack channel with the Slack app's Approve / Reject buttons. A request already open for
  this plan is not made or posted again.
- PostCriticals / PostFinding: a message in each environment's channel (or the channel).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from fleetpatch.approvals import ApprovalDesk, iam_principal
from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config
from fleetpatch.core.images import short_digest
from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.events.decide import (
    Action,
    Ignore,
    PostCriticals,
    PostFinding,
    RequestApproval,
    Skip,
    StartRollout,
)
from fleetpatch.events.messages import criticals_message, finding_message
from fleetpatch.journal import JournalStore
from fleetpatch.rollout.runner import Runner
from fleetpatch.slack import blocks as b
from fleetpatch.slack.actions import plan_fixes, plan_of
from fleetpatch.slack.replies import Replies


@dataclass
class Effects:
    config: Config
    journal: JournalStore
    sessions: AwsSessions
    stepfunctions: Any  # a boto3 Step Functions client
    state_machine_arn: str
    slack: Replies | None  # None: no bot token, nothing is posted (one line says so)
    now: Callable[[], datetime]

    def run(self, action: Action) -> str:
        if isinstance(action, StartRollout):
            return self._start(action)
        if isinstance(action, RequestApproval):
            return self._ask(action)
        if isinstance(action, PostCriticals):
            channels = [self.config.notifications.slack_channel(e) for e in action.environments]
            reply = criticals_message(action)
            said = [self._post(c, reply) for c in dict.fromkeys(channels) if c]
            return f"{action.sidecar} {short_digest(action.digest)}: new critical findings " + (
                f"({', '.join(action.vulnerabilities) or action.count}): not started; "
                + (", ".join(said) if said else "no Slack channel configured")
            )
        if isinstance(action, PostFinding):
            channel = self.config.notifications.slack_channel(action.environment)
            where = self._post(channel, finding_message(action)) if channel else "no channel"
            return (
                f"{action.environment}: {action.vulnerability_id} runs in "
                f"{len(action.services)} service(s); {action.deadline or 'no deadline'}; {where}"
            )
        if isinstance(action, Skip):
            return f"{action.environment}: not started: {action.reason}"
        assert isinstance(action, Ignore)
        return f"ignored: {action.reason}"

    def _start(self, action: StartRollout) -> str:
        name = action.rollout_id
        try:
            answer = self.stepfunctions.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=name,
                input=json.dumps(action.execution_input(), sort_keys=True),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return f"{action.environment}: rollout {name} already started"
            raise
        return (
            f"{action.environment}: started rollout {name} of {short_digest(action.digest)} "
            f"({answer['executionArn']})"
        )

    def _ask(self, action: RequestApproval) -> str:
        env, short = action.environment, short_digest(action.digest)
        runner = Runner(self.config, self.journal, now=self.now)
        runner.sessions = self.sessions
        who = iam_principal(self.sessions.get(env).caller_arn())
        runner.principal, runner.actor = who, who.actor
        try:
            the_plan = plan_of(runner, "rollout", env)
        except (UserError, EnvironmentFailure) as exc:
            return f"{env}: approval not requested: {exc}"
        if the_plan.target.digest != action.digest:
            now = short_digest(the_plan.target.digest)
            return f"{env}: approval not requested: the target is {now} now, not {short}"
        if not the_plan.waves:
            return f"{env}: approval not requested: every service runs {short} already"
        desk = ApprovalDesk(self.journal, self.config, now=self.now)
        try:
            request, new = desk.open_request("rollout", the_plan, who)
        except UserError as exc:  # Refused: this identity may not request (requesters)
            return f"{env}: approval not requested: {exc}"
        if not new:
            return f"{env}: approval of {short} already requested ({request.id})"
        reply = b.plan_message(
            "rollout",
            the_plan,
            requested_by=who.actor,
            fixes=plan_fixes(runner, the_plan),
            request=request,
        )
        channel = self.config.notifications.slack_channel(env)
        where = self._post(channel, reply) if channel else "no channel"
        return f"{env}: approval of {short} requested as {request.id}; {where}"

    def _post(self, channel: str | None, reply: b.Reply) -> str:
        if channel is None:
            return "no Slack channel configured"
        if self.slack is None:
            return f"not posted to {channel}: no Slack bot token (SLACK_BOT_TOKEN)"
        ts = self.slack.post(channel, reply)
        return f"posted to {channel}" if ts else f"Slack refused the post to {channel}"
