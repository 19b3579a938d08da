"""The work behind each slash command and button, run after Slack got its acknowledgement.

Every decision is made here, through the approval desk (approvals/desk.py), each one a
conditional journal write: a double click, a Slack redelivery or a repeated Lambda invocation
finds the state already moved and changes nothing. Only the call whose approval completed a
request launches its run (`ApprovalOutcome.completed`), and the run passes the gate once more.
Slack is told after the journal: a failed Slack call loses a message, never a decision.

    worker = Worker(config, client, ThreadLauncher())
    worker.command(body, respond)      # /fleetpatch ...
    worker.approve(body, respond)      # the Approve button
    worker.reject(body, respond)
    worker.run_job(job)                # the long work, wherever the launcher runs it
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk import WebClient

from fleetpatch.approvals import (
    ApprovalDesk,
    ApprovalRequired,
    ChangeRequest,
    Principal,
    iam_principal,
)
from fleetpatch.approvals.requests import RequestState
from fleetpatch.aws.errors import explain
from fleetpatch.compliance.clock import OpenDeadline
from fleetpatch.config import Action, Config
from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.journal import EntryKind, JournalStore, NewEntry, open_journal
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.notify import Notifier, RunContext, SlackPoster
from fleetpatch.notify.blocks import Block
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.plan import Plan
from fleetpatch.rollout.runner import Handoff, Runner
from fleetpatch.rollout.waits import PollPolicy
from fleetpatch.slack import blocks as b
from fleetpatch.slack.actions import current_target, plan_fixes, plan_of, plan_rollout, run_action
from fleetpatch.slack.commands import Command, Usage, parse
from fleetpatch.slack.jobs import Job, Launcher
from fleetpatch.slack.replies import Replies, Respond
from fleetpatch.slack.views import report_file, status_reply

log = logging.getLogger("fleetpatch.slack")


@dataclass
class Worker:
    config: Config
    client: WebClient
    launcher: Launcher
    now: Callable[[], datetime] = utc_now
    # First poll interval of a run's deployments (seconds); tests on a fast simulator lower it.
    poll_interval: float = 5.0
    # Where an authorized run's waves go: None = this process (`slack serve`); on Lambda the
    # rollout state machine (workflow/handoff.py), as a rollout outlasts an invocation.
    handoff: Handoff | None = None
    replies: Replies = field(init=False)

    def __post_init__(self) -> None:
        self.replies = Replies(self.client)

    @property
    def environments(self) -> list[str]:
        return [e.name for e in self.config.environments]

    # --- /fleetpatch ----------------------------------------------------------------------------

    def command(self, body: dict[str, Any], respond: Respond | None) -> None:
        parsed = parse(str(body.get("text") or ""), self.environments, _slash(body))
        if isinstance(parsed, Usage):
            return  # the acknowledgement showed the usage already
        user, channel = str(body["user_id"]), str(body["channel_id"])
        name = str(body.get("user_name") or "")
        with self._answering(respond, channel, user, parsed.text):
            if parsed.verb == "status":
                self.replies.ephemeral(respond, channel, user, status_reply(self.config, self.now))
            elif parsed.verb == "plan":
                self._plan(parsed, user, name, channel, respond)
            elif parsed.verb == "report":
                self._report(parsed, user, channel, respond)
            elif parsed.verb == "abort":
                self._abort(parsed, user, name, channel, respond)
            else:
                self._request(parsed, user, name, channel, respond)

    def _plan(
        self, command: Command, user: str, name: str, channel: str, respond: Respond | None
    ) -> None:
        env = str(command.environment)
        with self._journal() as journal:
            runner = self._runner(journal, self._principal(user, name, env))
            the_plan = plan_rollout(runner, env)
            reply = b.plan_message(
                "rollout", the_plan, requested_by=user, fixes=self._fixes(runner, the_plan)
            )
        self.replies.ephemeral(respond, channel, user, reply)

    def _request(
        self, command: Command, user: str, name: str, channel: str, respond: Respond | None
    ) -> None:
        """rollout / promote / rollback: the plan, then the run (no approval needed) or a
        request with Approve / Reject buttons (an approved one for this plan starts)."""
        action: Action = command.verb  # type: ignore[assignment]  # one of the three here
        env, source = str(command.environment), command.source
        with self._journal() as journal:
            who = self._principal(user, name, env)
            runner = self._runner(journal, who)
            desk = ApprovalDesk(journal, self.config, now=self.now)
            the_plan = plan_of(runner, action, env, source)
            fixes = self._fixes(runner, the_plan)
            if not the_plan.waves:
                status = ":white_check_mark: Nothing to deploy: every service runs the target."
                reply = b.plan_message(
                    action, the_plan, requested_by=user, fixes=fixes, source=source, status=status
                )
                self.replies.ephemeral(respond, channel, user, reply)
                return
            request = None
            if desk.policy(env).needed(action) > 0:
                request = self._open_request(desk, action, the_plan, who, source)
        if request is None or request.state is RequestState.APPROVED:
            status = ":arrow_forward: No approval needed: starting now; progress in the thread."
            if request is not None:
                status = f":arrow_forward: {b.approved_line(request)}: starting now."
            reply = b.plan_message(
                action, the_plan, requested_by=user, fixes=fixes, source=source,
                request=request, status=status,
            )  # fmt: skip
            ts = self._post_or_say(respond, channel, user, reply, request)
            if ts is not None:
                request_id = request.id if request is not None else None
                job = Job(action, env, user, name, channel, ts, source, request_id)
                self.launcher.launch(job, self.run_job)
            return
        reply = b.plan_message(
            action, the_plan, requested_by=user, fixes=fixes, source=source, request=request
        )
        self._post_or_say(respond, channel, user, reply, request)

    def _open_request(
        self, desk: ApprovalDesk, action: Action, the_plan: Plan, who: Principal, source: str | None
    ) -> ChangeRequest:
        """The open request for exactly this plan, else a new one (requester: `who`)."""
        return desk.open_request(action, the_plan, who, source=source)[0]

    def _post_or_say(
        self,
        respond: Respond | None,
        channel: str,
        user: str,
        reply: b.Reply,
        request: ChangeRequest | None,
    ) -> str | None:
        ts = self.replies.post(channel, reply)
        if ts is None:
            journaled = f" Request {request.id} is journaled:" if request else ""
            message = (
                f"Could not post in this channel (is the app in it? /invite it).{journaled} "
                "nothing has moved; `fleetpatch requests` lists it."
            )
            self.replies.ephemeral(respond, channel, user, b.refusal(message))
        return ts

    def _abort(
        self, command: Command, user: str, name: str, channel: str, respond: Respond | None
    ) -> None:
        from fleetpatch.rollout.abort import abort

        env = str(command.environment)
        policy = self.config.environment(env).approvals
        with self._journal() as journal:
            who = self._principal(user, name, env)
            allowed = (*policy.requesters, *policy.approvers)
            if policy.requesters and not who.covered_by_any(allowed):
                reason = f"{who.display} may not abort {env}: not in its requesters or approvers"
                _journal_refusal(journal, who, env, "abort", reason)
                raise UserError(reason)
            runner = self._runner(journal, who)
            runner.confirm_accounts([env])
            ecs = runner.sessions.get(env).ecs()
            result = abort(journal, ecs, env, actor=who.actor)
        if result.rollout_id is None:
            text = f"{env}: no rollout in the journal: nothing to abort"
        else:
            lines = [
                f"{s.service}: {'rolled back' if s.ok else 'NOT stopped'} ({s.message})"
                for s in result.stopped
            ]
            text = f"{env}: rollout {result.rollout_id} aborted by {b.mention(user)}" + "".join(
                f"\n• {line}" for line in lines
            )
        if self.replies.post(channel, b.notice(text)) is None:
            self.replies.ephemeral(respond, channel, user, b.notice(text))

    def _report(self, command: Command, user: str, channel: str, respond: Respond | None) -> None:
        filename, content, title = report_file(self.config, command.environment, self.now)
        comment = f"{title}, requested by <@{user}>"
        if not self.replies.upload(channel, filename, content, title=title, comment=comment):
            self.replies.ephemeral(
                respond, channel, user, b.refusal("Could not upload the report to this channel")
            )

    # --- the buttons ----------------------------------------------------------------------------

    def approve(self, body: dict[str, Any], respond: Respond | None) -> None:
        self._decide(body, respond, approving=True)

    def reject(self, body: dict[str, Any], respond: Respond | None) -> None:
        self._decide(body, respond, approving=False)

    def _decide(self, body: dict[str, Any], respond: Respond | None, *, approving: bool) -> None:
        request_id = str(body["actions"][0]["value"])
        person = body["user"]
        user, name = str(person["id"]), str(person.get("username") or person.get("name") or "")
        channel = str((body.get("channel") or {}).get("id") or body["container"]["channel_id"])
        message = body.get("message") or {}
        ts = str(message.get("ts") or body["container"]["message_ts"])
        shown = list(message.get("blocks") or [])
        launch: Job | None = None
        with self._answering(respond, channel, user, "approve" if approving else "reject"):
            try:
                with self._journal() as journal:
                    desk = ApprovalDesk(journal, self.config, now=self.now)
                    request = desk.get(request_id)
                    who = self._principal(user, name, request.environment)
                    if approving:
                        target = current_target(self._runner(journal, who), request)
                        outcome = desk.give_approval(request_id, who, current_target=target)
                        request = outcome.request
                        if outcome.completed:
                            launch = _job(request, channel, ts)
                        elif not outcome.counted:
                            self.replies.ephemeral(respond, channel, user, _not_counted(request))
                    else:
                        request = desk.reject(request_id, who)
            finally:
                self._show_decision(channel, ts, shown, request_id)
        if launch is not None:
            self.launcher.launch(launch, self.run_job)

    def _show_decision(
        self, channel: str, ts: str, shown: Sequence[Block], request_id: str
    ) -> None:
        """The message as the journal has the request now: buttons replaced once decided."""
        if not shown:
            return
        with self._journal() as journal:
            try:
                request = ApprovalDesk(journal, self.config, now=self.now).get(request_id)
            except UserError:
                return
        if not request.approvals and request.is_open:
            return  # nothing decided yet (a refusal): the buttons stay
        if request.state is RequestState.REJECTED:
            line = b.rejected_line(request)
        elif request.state in (RequestState.EXPIRED, RequestState.CANCELLED):
            line = f":hourglass: Request {request.id} {request.state.value}: nothing was changed."
        else:
            line = b.approved_line(request)
            if request.state is not RequestState.PENDING:
                line += " · starting; progress in the thread"
        keep = request.state is RequestState.PENDING
        text = f"{request.action} of {request.environment}: {line}"
        self.replies.update(channel, ts, b.Reply(text, b.decided(shown, line, keep_buttons=keep)))

    # --- the long work --------------------------------------------------------------------------

    def run_job(self, job: Job) -> None:
        """Run the job's action as its requester, progress in the request's thread (notify),
        then the month's report as a file there."""
        who = self._requester(job)
        client, channel, thread = self.client, job.channel, job.thread_ts

        def notifier(config: Config, run: RunContext) -> Notifier:
            return Notifier(run, SlackPoster(client, channel, thread_ts=thread))

        with self._journal() as journal:
            runner = self._runner(journal, who, job.request_id)
            runner.notifier = notifier
            try:
                result = run_action(runner, job.action, job.environment, job.source)
            except ApprovalRequired as exc:
                self.replies.post(channel, b.refusal(f"Nothing moved: {exc}"), thread)
                return
            except (UserError, EnvironmentFailure) as exc:
                self.replies.post(channel, b.refusal(f"Nothing moved: {exc}"), thread)
                return
            except (ClientError, BotoCoreError) as exc:
                failure = explain(job.environment, exc)
                said = str(failure) if failure is not None else type(exc).__name__
                self.replies.post(channel, b.refusal(f"The run stopped: {said}"), thread)
                return
        if result.execution is not None:
            name = result.execution.rsplit(":", 1)[-1]
            said = (
                f"{job.action} {result.rollout_id} runs as Step Functions execution {name}; "
                "its progress is posted where [notifications.slack] says"
            )
            self.replies.post(channel, b.notice(said), thread)
            return
        filename, content, title = report_file(self.config, job.environment, self.now)
        verdict = "verified" if result.ok else "NOT all verified"
        comment = f"{title}: {job.action} {result.rollout_id} {verdict}"
        self.replies.upload(
            channel, filename, content, title=title, comment=comment, thread_ts=thread
        )

    # --- shared -------------------------------------------------------------------------------

    @contextmanager
    def _journal(self) -> Iterator[JournalStore]:
        with open_journal(self.config.journal, clock=self.now) as journal:
            yield journal

    def _runner(
        self, journal: JournalStore, who: Principal, request_id: str | None = None
    ) -> Runner:
        poll = PollPolicy(
            interval=self.poll_interval,
            max_interval=max(self.poll_interval, 4 * self.poll_interval),
            timeout=self.config.policy.deployment_timeout_minutes * 60.0,
        )
        return Runner(
            self.config,
            journal,
            now=self.now,
            options=RolloutOptions(poll=poll),
            actor=who.actor,
            principal=who,
            request_id=request_id,
            handoff=self.handoff,
        )

    def _requester(self, job: Job) -> Principal:
        """Who asked is who runs it: a Slack user, or, for a request the events handler
        opened (docs/automation.md), the IAM identity it asked as, which an environment's
        approvals.requesters names by its role ARN."""
        if job.requester_id.startswith("iam:"):
            return iam_principal(job.requester_id.removeprefix("iam:"))
        return self._principal(job.requester_id, job.requester_name, job.environment)

    def _principal(self, user: str, name: str, environment: str) -> Principal:
        policy = self.config.environment(environment).approvals
        groups = [p for p in (*policy.requesters, *policy.approvers) if p.startswith("S")]
        return self.replies.principal(user, name, groups)

    def _fixes(self, runner: Runner, the_plan: Plan) -> list[OpenDeadline]:
        """The open deadlines the plan's services have now (the target fixes them)."""
        return plan_fixes(runner, the_plan)

    @contextmanager
    def _answering(
        self, respond: Respond | None, channel: str, user: str, what: str
    ) -> Iterator[None]:
        """A refusal or a mistake is the user's to read (ephemeral): one clear line."""
        try:
            yield
        except (UserError, EnvironmentFailure) as exc:
            # Refused and ApprovalRequired are UserErrors; the desk journaled them.
            self.replies.ephemeral(respond, channel, user, b.refusal(str(exc)))
        except (ClientError, BotoCoreError) as exc:
            failure = explain("AWS", exc)
            said = str(failure) if failure is not None else f"{type(exc).__name__}: {exc}"
            log.warning("slack: %s failed: %s", what, said)
            self.replies.ephemeral(respond, channel, user, b.refusal(said))


def _slash(body: dict[str, Any]) -> str:
    return str(body.get("command") or "/fleetpatch")


def _job(request: ChangeRequest, channel: str, ts: str) -> Job:
    action: Action = request.action  # type: ignore[assignment]  # the desk wrote one of three
    source = request.summary.get("source")
    return Job(
        action,
        request.environment,
        request.requester.removeprefix("slack:"),
        request.requester_name,
        channel,
        ts,
        str(source) if source else None,
        request.id,
    )


def _not_counted(request: ChangeRequest) -> b.Reply:
    if request.state is RequestState.STARTED:
        return b.notice(f"{request.id} is approved and its {request.action} has started.")
    return b.notice(
        f"You already approved {request.id} ({len(request.approvals)} of {request.required})."
    )


def _journal_refusal(
    journal: JournalStore, who: Principal, environment: str, attempted: str, reason: str
) -> None:
    details = {"attempted": attempted, "reason": reason, "name": who.name}
    journal.append(
        NewEntry(kind=EntryKind.REFUSED, environment=environment, actor=who.actor, details=details)
    )
