"""The rollout's steps, each short and level-triggered, for a state machine to run one by one.

    steps = RolloutSteps(config, journal)
    planned = steps.plan({"rollout_id": "r-...", "environment": "dev", ...})
    passed = steps.start_wave({"rollout_id": ..., "environment": "dev", "wave": 1,
                               "lock": planned["lock"]})
    judged = steps.judge_wave({..., "pass": passed})     # "wait" | "done" | "halt"
    passed = steps.poll_wave({..., "progress": judged["progress"]})   # after a Wait state
    ...
    steps.halt_wave({..., "reason": judged["reason"]}); steps.finish({...})

The engine is the CLI's (rollout/executor.py): a step is one of its parts - plan, one pass of
a wave, the judgement after it, the halt - run against the journal and ECS as they are now.
Nothing is trusted from memory: the plan is the one journaled under the rollout id, the open
services are those the journal has not concluded, so a step retried after a crash or a lost
answer changes nothing twice. Step Functions' payloads carry only the lock and each wave's
clock (workflow/state.py). The state machines that order the steps: workflow/*.asl.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.aws.errors import explain
from fleetpatch.config import Config
from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.journal import Entry, EntryKind, JournalStore, LockHeld
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.notify import Notifier, RunContext, configured_notifier
from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.events import Event, EventSink, NullSink
from fleetpatch.rollout.executor import Rollout, RolloutOptions
from fleetpatch.rollout.plan import Mode, Plan, Wave
from fleetpatch.rollout.plan_record import plan_from_record
from fleetpatch.rollout.rollback import rollback_completed
from fleetpatch.rollout.runner import Runner
from fleetpatch.rollout.waits import PollPolicy
from fleetpatch.workflow.state import (
    EpochClock,
    lock_from_json,
    lock_to_json,
    open_steps,
    progress_from_json,
    progress_to_json,
)
from fleetpatch.workflow.story import journal_events

# Between passes the state machine waits 30 s at first, then up to 5 minutes while nothing
# changes: a wave of hour-long deployments costs ~12 passes an hour, not 720.
WORKFLOW_POLL = PollPolicy(interval=30.0, max_interval=300.0, backoff=1.5)
# A step refreshes the lock each time it runs; a crashed execution's lock is free after this.
WORKFLOW_LOCK_TTL = timedelta(minutes=15)


def workflow_lock_owner(rollout_id: str) -> str:
    """Who holds the environment's lock while an execution runs the rollout."""
    return f"workflow {rollout_id}"


class TransientStepError(Exception):
    """AWS was busy (throttled, a 5xx): the state machine retries the step
    (its Retry names this class, `fleetpatch.workflow.steps.TransientStepError`)."""


@dataclass
class RolloutSteps:
    config: Config
    journal: JournalStore
    now: Callable[[], datetime] = utc_now
    sink: EventSink = field(default_factory=NullSink)
    poll: PollPolicy = WORKFLOW_POLL
    lock_ttl: timedelta = WORKFLOW_LOCK_TTL
    notifier: Callable[[Config, RunContext], Notifier | None] = configured_notifier

    # --- the steps ----------------------------------------------------------------------------

    def plan(self, event: dict[str, Any]) -> dict[str, Any]:
        """Take the lock, read the fleet, plan, check `requires`, pre-flight and approvals,
        journal the plan. Run again for the same rollout id: the journaled plan, not a new one."""
        rollout_id, environment = _text(event, "rollout_id"), _text(event, "environment")
        runner = self._runner(event)
        try:
            runner.confirm_accounts([environment, *self.config.environment(environment).requires])
            lock = self._take_lock(environment, rollout_id)
        except UserError as exc:
            return {"status": "refused", "reason": str(exc)}
        try:
            plans = self.journal.entries(environment=environment, kind=EntryKind.PLAN.value)
            journaled = _journaled_plan(rollout_id, plans)
            if journaled is not None:
                the_plan = journaled[0]
            else:
                the_plan = self._new_plan(runner, event, rollout_id)
                rollout = runner.rollout(the_plan, lock, rollout_id, sink=self.sink)
                rollout.record.planned()
                self._tell(rollout, [], [Event("plan", the_plan.to_json())])
        except (UserError, EnvironmentFailure) as exc:
            self.journal.release_lock(lock)
            return {"status": "refused", "reason": str(exc)}
        first = 0 if the_plan.done else 1
        return {
            "status": "planned",
            "rollout_id": rollout_id,
            "environment": environment,
            "lock": lock_to_json(lock),
            "wave": first,
            "last_wave": len(the_plan.waves),
            "services": len(the_plan.services),
        }

    def start_wave(self, event: dict[str, Any]) -> dict[str, Any]:
        """The wave's first pass: its deployments start here."""
        rollout, wave, _ = self._rollout(event)
        progress = rollout.start_wave(wave, announce=wave.index != 0)
        # Read again: the pass just journaled what it started.
        progress.open = open_steps(wave, self._entries(rollout), rollout.rollout_id)
        return self._pass(rollout, progress, self.poll.interval)

    def poll_wave(self, event: dict[str, Any]) -> dict[str, Any]:
        """A later pass, after a Wait state: follow, verify, start what is still to start."""
        rollout, wave, entries = self._rollout(event)
        progress, interval = self._progress(rollout, wave, event, entries)
        return self._pass(rollout, progress, rollout.next_interval(interval))

    def judge_wave(self, event: dict[str, Any]) -> dict[str, Any]:
        """After a pass: "halt" (the pass's reason, the failure budget exceeded), "done"
        (every service concluded), or "wait" `wait_seconds` for the next pass."""
        passed = dict(event["pass"])
        rollout, wave, entries = self._rollout({**event, "progress": passed["progress"]})
        progress, interval = self._progress(
            rollout, wave, {"progress": passed["progress"]}, entries
        )
        if passed.get("halt"):
            return {"verdict": "halt", "reason": passed["halt"], "progress": passed["progress"]}
        reason = rollout.judge(progress)
        state = progress_to_json(progress, interval)
        if reason is not None:
            return {"verdict": "halt", "reason": reason, "progress": state}
        if progress.open:
            return {"verdict": "wait", "wait_seconds": int(interval), "progress": state}
        rollout.end_wave(progress)
        if wave.index != 0:
            failed = [k for k, r in rollout.record.result.services.items() if r.status == "failed"]
            in_wave = [k for k in failed if k in {s.key for s in wave.services}]
            self._tell(
                rollout, None, [Event("wave_finished", {"wave": wave.index, "failed": in_wave})]
            )
        return {"verdict": "done", "progress": state}

    def halt_wave(self, event: dict[str, Any]) -> dict[str, Any]:
        """Halt in this wave: roll back what it still deploys (StopServiceDeployment), skip
        the services left. Run again: what is already stopped or concluded stays so."""
        rollout, wave, entries = self._rollout(event)
        progress, _ = self._progress(rollout, wave, event, entries)
        if rollout.record.result.halted and not progress.open:
            return {"status": "halted", "reason": rollout.record.result.halt_reason}
        reason = _text(event, "reason")
        try:
            rollout.halt(progress, reason)
        except (ClientError, BotoCoreError) as exc:
            _raise_transient(exc)
            raise
        return {"status": "halted", "reason": reason}

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        """The run's end: its summary (from the journal), the lock released, the team told."""
        rollout, _, entries = self._rollout({**event, "wave": 0})
        result = rollout.record.result
        rollout.record.finished()
        self._rollback_completed(rollout, entries)
        self.journal.release_lock(lock_from_json(event["lock"]))
        self._tell(rollout, None, [Event("finished", {"ok": result.ok})])
        return {
            "rollout_id": rollout.rollout_id,
            "environment": rollout.plan.environment,
            "ok": result.ok,
            "halted": result.halt_reason if result.halted else None,
            "verified": sorted(r.key for r in result.with_status("verified")),
            "failed": sorted(r.key for r in result.with_status("failed")),
            "skipped": sorted(r.key for r in result.with_status("skipped")),
        }

    # --- parts ----------------------------------------------------------------------------------

    def _pass(self, rollout: Rollout, progress: Any, interval: float) -> dict[str, Any]:
        """One pass of the engine; an AWS error that is not transient halts, in AWS's words."""
        halt: str | None
        try:
            halt = rollout.run_pass(progress)
        except (ClientError, BotoCoreError) as exc:
            _raise_transient(exc)
            failure = explain(rollout.plan.environment, exc)
            halt = failure.message if failure is not None else f"{type(exc).__name__}: {exc}"
        return {"halt": halt, "progress": progress_to_json(progress, interval)}

    def _runner(self, event: dict[str, Any]) -> Runner:
        runner = Runner(
            self.config,
            self.journal,
            clock=EpochClock(self.now),
            now=self.now,
            sink=self.sink,
            options=RolloutOptions(
                poll=PollPolicy(
                    interval=self.poll.interval,
                    max_interval=self.poll.max_interval,
                    backoff=self.poll.backoff,
                    timeout=self.config.policy.deployment_timeout_minutes * 60.0,
                ),
                retry_failed=bool(event.get("retry_failed")),
            ),
            lock_ttl=self.lock_ttl,
            request_id=event.get("request_id"),
        )
        actor = event.get("actor")
        if isinstance(actor, str) and actor:
            runner.actor = actor
        return runner

    def _rollout(self, event: dict[str, Any]) -> tuple[Rollout, Wave, list[Entry]]:
        """The engine for the journaled plan of `rollout_id`, holding the lock (refreshed
        here: LockLost if someone took it), with what earlier steps concluded; and the
        environment's journal as read for it (one read a step, not one a question)."""
        rollout_id, environment = _text(event, "rollout_id"), _text(event, "environment")
        entries = self.journal.entries(environment=environment)
        journaled = _journaled_plan(rollout_id, entries)
        if journaled is None:
            raise UserError(f"no plan journaled for rollout {rollout_id} in {environment}")
        the_plan, actor, task_definitions = journaled
        lock = self.journal.refresh_lock(lock_from_json(event["lock"]))
        runner = self._runner(event)
        runner.actor = actor
        rollout = runner.rollout(
            the_plan, lock, rollout_id, sink=self.sink, task_definitions=task_definitions
        )
        rollout.recall(entries)
        index = int(event.get("wave", 0))
        if index == 0:
            return rollout, Wave(0, False, the_plan.done), entries
        return rollout, the_plan.waves[index - 1], entries

    def _progress(
        self, rollout: Rollout, wave: Wave, event: dict[str, Any], entries: list[Entry]
    ) -> tuple[Any, float]:
        steps = open_steps(wave, entries, rollout.rollout_id)
        return progress_from_json(wave, dict(event["progress"]), steps)

    def _rollback_completed(self, rollout: Rollout, entries: list[Entry]) -> None:
        """A rollback handed off to the workflow (rollback.py) completes here, as it would at
        the end of `fleetpatch rollback`; once, however often the finish step runs."""
        mine = [e for e in entries if e.rollout_id == rollout.rollout_id]
        started = [e for e in mine if e.kind is EntryKind.ROLLBACK_STARTED]
        if not started or any(e.kind is EntryKind.ROLLBACK_COMPLETED for e in mine):
            return
        begun = started[-1]
        path = {k: str(v) for k, v in (begun.details or {}).items() if k in ("path", "why")}
        self.journal.append(
            rollback_completed(
                rollout.plan.environment,
                begun.sidecar or rollout.plan.sidecar,
                begun.digest_before,
                rollout.plan.target.digest,
                rollout.rollout_id,
                rollout.record.result,
                path,
                rollout.record.actor,
            )
        )

    def _entries(self, rollout: Rollout) -> list[Any]:
        return self.journal.entries(environment=rollout.plan.environment)

    def _take_lock(self, environment: str, rollout_id: str) -> Any:
        """The environment's lock for this execution; a retried plan step finds it its own."""
        owner = workflow_lock_owner(rollout_id)
        try:
            return self.journal.acquire_lock(environment, owner, self.lock_ttl)
        except LockHeld as held:
            if held.holder != owner:
                raise
            why = "the workflow's plan step ran again"
            return self.journal.acquire_lock(environment, owner, self.lock_ttl, take_over=why)

    def _new_plan(self, runner: Runner, event: dict[str, Any], rollout_id: str) -> Plan:
        from fleetpatch.cli.rollout import build_plan
        from fleetpatch.rollout.promote import check_prerequisites

        environment = _text(event, "environment")
        sidecar = self.config.sidecar(event.get("sidecar"))
        mode: Mode = "pin" if event.get("mode") == "pin" else "tag"
        the_plan = build_plan(
            self.config, environment, sidecar.name, event.get("digest"), None, mode, self.now
        )
        if mode == "tag" and the_plan.target.tag is None and the_plan.waves:
            raise UserError(
                f"{environment}: the moving tag {sidecar.tag} no longer points to "
                f"{the_plan.target.label}: not started"
            )
        check_prerequisites(runner, environment, sidecar, the_plan.target.digest)
        if the_plan.waves:
            runner.preflight(the_plan)
        # `source` here is who started the execution (ecr-push ...), not a promote's source
        # environment: a rollout's approval is asked for and matched without one.
        runner.authorize("rollout", the_plan, rollout_id)
        return the_plan

    def _tell(self, rollout: Rollout, replay: list[Event] | None, new: list[Event]) -> None:
        """The team hears what `new` says (Slack), knowing the run so far (`replay`; None:
        read from the journal). A notification never fails a step."""
        run = RunContext(rollout.rollout_id, rollout.plan.environment, rollout.record.actor)
        notifier = self.notifier(self.config, run)
        if notifier is None:
            return
        if replay is None:
            replay = journal_events(rollout.plan, self._entries(rollout), rollout.rollout_id)
        notifier.catch_up(replay)
        for event in new:
            notifier.emit(event)
        notifier.close()


def _journaled_plan(
    rollout_id: str, entries: list[Entry]
) -> tuple[Plan, str, dict[str, str]] | None:
    """The plan journaled for `rollout_id` (by the plan step, or by the process that handed
    the run off: workflow/handoff.py), who started the run, and the revisions a rollback
    redeploys."""
    for entry in entries:
        details = entry.details or {}
        if entry.kind is EntryKind.PLAN and entry.rollout_id == rollout_id and "plan" in details:
            revisions = dict(details.get("task_definitions") or {})
            return plan_from_record(dict(details["plan"])), entry.actor, revisions
    return None


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise UserError(f"the step's input has no {key!r}")
    return value


def _raise_transient(exc: ClientError | BotoCoreError) -> None:
    if ecs_api.is_transient(exc):
        raise TransientStepError(str(exc)) from exc
