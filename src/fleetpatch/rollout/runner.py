"""What `rollout`, `promote` and `rollback` share: read an environment, pre-flight, run a plan.

    runner = Runner(config, journal)                 # tests: clock=SimClock(sim), now=sim time
    with runner.locked("prod") as lock:              # confirms prod's account first
        the_plan = ...
        runner.preflight(the_plan, also=["stg"])     # raises PreflightRefused on a failed check
        result = runner.execute(the_plan, lock)

Two clocks: `clock` (seconds, for waiting on ECS; the simulator's tests advance it) and `now`
(a datetime, for soak times; tests read the simulator's time so that soak passes in sim time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from fleetpatch.approvals import ApprovalDesk, Authorization, Principal, iam_principal
from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Action, Config
from fleetpatch.core.snapshot import EnvironmentSnapshot, Snapshot
from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.inventory.answers import AnswerCache
from fleetpatch.inventory.registry import RegistryOpener, open_origin, registry_opener
from fleetpatch.journal import (
    EntryKind,
    JournalStore,
    Lock,
    NewEntry,
    current_user,
    default_lock_owner,
)
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.notify import Notifier, RunContext, configured_notifier, notification_checks
from fleetpatch.notify.notifier import notified
from fleetpatch.rollout.events import Event, EventSink, NullSink
from fleetpatch.rollout.executor import Rollout, RolloutOptions, RolloutResult, new_rollout_id
from fleetpatch.rollout.plan import Plan
from fleetpatch.rollout.preflight import Check, preflight, refusal
from fleetpatch.rollout.preflight_aws import gather
from fleetpatch.rollout.waits import Clock, RealClock


class PreflightRefused(UserError):
    """A pre-flight check failed: nothing was changed."""

    def __init__(self, message: str, checks: list[Check]) -> None:
        super().__init__(message)
        self.checks = checks


def _no_prompt(the_plan: Plan) -> None:
    return None


class Handoff(Protocol):
    """Runs a rollout's waves outside this process: on AWS, a Step Functions execution
    (fleetpatch.workflow.handoff), because a Lambda invocation stops after 15 minutes."""

    def hand_off(self, rollout: Rollout, lock: Lock) -> str:
        """Journal `rollout`'s plan, hand `lock` over and start the waves elsewhere; return
        where they run (an execution ARN). Called once the run is authorized."""
        ...


def _authorized_json(authorization: Authorization, who: Principal) -> dict[str, Any]:
    request = authorization.request
    return {
        "by": who.actor,
        "request_id": request.id if request else None,
        "approved_by": list(request.approved_by) if request else [],
        "resumed": authorization.resumed,
    }


@dataclass
class Runner:
    config: Config
    journal: JournalStore
    clock: Clock = field(default_factory=RealClock)
    now: Callable[[], datetime] = utc_now
    sink: EventSink = field(default_factory=NullSink)
    options: RolloutOptions = field(default_factory=RolloutOptions)
    strict: bool = False
    # Asked once the plan and pre-flight are known, before any change (the CLI prompts here).
    confirm: Callable[[Plan], None] = _no_prompt
    lock_ttl: timedelta = timedelta(minutes=2)
    actor: str = field(default_factory=current_user)
    # Answers AWS never changes, kept between runs (inventory/answers.py); None: read cold.
    answers: AnswerCache | None = None
    # Who runs it, for approvals: a Slack user (the Slack app), else (None) the IAM identity
    # of the environment's credentials.
    principal: Principal | None = None
    # The approved request this run carries out (the Slack app); None: whichever matches.
    request_id: str | None = None
    # Who hears about each run (fleetpatch.notify): by default what [notifications] says; the
    # Slack app posts a run under the request message instead.
    notifier: Callable[[Config, RunContext], Notifier | None] = configured_notifier
    # Where the waves run: None = here (`execute` runs them); a Handoff = elsewhere, and
    # `execute` returns once they started there (the Slack app and Chatbot on Lambda).
    handoff: Handoff | None = None
    sessions: AwsSessions = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = AwsSessions(self.config)

    # --- reading ------------------------------------------------------------------------------

    def snapshot(self, environment: str) -> Snapshot:
        from fleetpatch.inventory.collect import collect

        snapshot = collect(
            self.config,
            [environment],
            sessions=self.sessions,
            clock=self.now,
            answers=self.answers,
        )
        error = snapshot.environments[0].error
        if error is not None:
            raise EnvironmentFailure(environment, error)
        return snapshot

    def environment(self, environment: str) -> EnvironmentSnapshot:
        return self.snapshot(environment).environments[0]

    def registries(self, environment: str) -> RegistryOpener:
        """Opens any registry as seen from `environment` (its ECR client per region, the
        config's [[registries]] endpoints for OCI hosts)."""
        aws = self.sessions.get(environment)
        return registry_opener(aws, self.config.registry_endpoints())

    # --- guarding -----------------------------------------------------------------------------

    def confirm_accounts(self, environments: Iterable[str]) -> None:
        """Refuse (AccountMismatch, exit 2) unless each environment's credentials reach its
        configured account; asked once per environment for this runner."""
        self.sessions.confirm_accounts(environments)

    @contextmanager
    def locked(self, environment: str) -> Iterator[Lock]:
        """The environment's journal lock, taken only once its account is confirmed: a
        command run with the wrong credentials changes nothing, not even the lock."""
        self.sessions.confirm_account(environment)
        lock = self.journal.acquire_lock(environment, default_lock_owner(), self.lock_ttl)
        try:
            yield lock
        finally:
            self.journal.release_lock(lock)

    def preflight(
        self,
        the_plan: Plan,
        also: Iterable[str] = (),
        *,
        rollback: bool = False,
        moves_tag: str | None = None,
    ) -> list[Check]:
        """Run the pre-flight checks for `the_plan` (its repository must also be in the
        environments `also`; `moves_tag`: the tag the run re-tags to the target); emit
        them; raise PreflightRefused if one failed."""
        environments = dict.fromkeys([the_plan.environment, *also])
        ecrs = {name: self.sessions.get(name).ecr() for name in environments}
        ecs = self.sessions.get(the_plan.environment).ecs()
        entries = self.journal.entries(environment=the_plan.environment)
        aws = self.sessions.get(the_plan.environment)
        registry = open_origin(aws, the_plan.target.registry, self.config.registry_endpoints())
        facts = gather(ecs, ecrs, the_plan, entries, registry, moves_tag)
        checks = preflight(facts, strict=self.strict, rollback=rollback)
        checks += notification_checks(self.config, the_plan.environment)
        self.sink.emit(Event("preflight", {"checks": [c.to_json() for c in checks]}))
        reason = refusal(checks)
        if reason is not None:
            raise PreflightRefused(reason, checks)
        return checks

    def authorize(
        self, action: Action, the_plan: Plan, rollout_id: str, *, source: str | None = None
    ) -> Authorization:
        """The environment's approval policy, enforced: starts the approved request for this
        plan (once), or raises ApprovalRequired (a request is made if none is pending)."""
        desk = ApprovalDesk(self.journal, self.config, now=self.now)
        if desk.policy(the_plan.environment).needed(action) == 0:
            return Authorization()  # nothing to enforce: not even who runs it is asked
        who = self.principal or iam_principal(self.sessions.get(the_plan.environment).caller_arn())
        authorization = desk.authorize(
            action, the_plan, who, rollout_id, request_id=self.request_id, source=source
        )
        self.sink.emit(Event("authorized", _authorized_json(authorization, who)))
        return authorization

    # --- acting -------------------------------------------------------------------------------

    def record(self, kind: EntryKind, environment: str, **fields: Any) -> None:
        self.journal.append(
            NewEntry(kind=kind, environment=environment, actor=self.actor, **fields)
        )

    def execute(
        self,
        the_plan: Plan,
        lock: Lock,
        *,
        rollout_id: str | None = None,
        task_definitions: Mapping[str, str] | None = None,
    ) -> RolloutResult:
        rollout_id = rollout_id or new_rollout_id()
        # With a hand-off, a plan with nothing to deploy (a redelivered job, once the
        # execution is done) still runs here: it only verifies, and needs no execution.
        # Every run notifies, whichever entry point started it; the notifier never fails it.
        # A handed-off run tells its start (the plan) here, the rest from where it runs.
        run = RunContext(rollout_id, the_plan.environment, self.actor)
        with notified(self.sink, self.notifier(self.config, run)) as sink:
            rollout = self.rollout(
                the_plan, lock, rollout_id, sink=sink, task_definitions=task_definitions
            )
            if self.handoff is not None and the_plan.waves:
                rollout.record.result.execution = self.handoff.hand_off(rollout, lock)
                return rollout.record.result
            return rollout.run()

    def rollout(
        self,
        the_plan: Plan,
        lock: Lock | None,
        rollout_id: str,
        *,
        sink: EventSink | None = None,
        task_definitions: Mapping[str, str] | None = None,
    ) -> Rollout:
        """The engine for `the_plan` in its environment: `run()` it whole (the CLI), or one
        step at a time (fleetpatch.workflow)."""
        options = self.options
        if task_definitions:
            options = RolloutOptions(
                poll=options.poll,
                retry_failed=options.retry_failed,
                workers=options.workers,
                task_definitions=dict(task_definitions),
            )
        aws = self.sessions.get(the_plan.environment)
        return Rollout(
            the_plan,
            aws.ecs(),
            aws.ecr(),
            self.journal,
            lock=lock,
            sink=sink or self.sink,
            clock=self.clock,
            options=options,
            actor=self.actor,
            rollout_id=rollout_id,
            registry=open_origin(aws, the_plan.target.registry, self.config.registry_endpoints()),
            writer=aws.ecs_writes(),
        )
