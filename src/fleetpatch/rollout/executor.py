"""The rollout as a reconcile loop: a `Plan` run wave by wave, each wave pass by pass.

    lock = journal.acquire_lock("dev", default_lock_owner(), ttl)
    result = Rollout(plan, ecs, ecr, journal, lock=lock, sink=sink).run()

One pass over a wave's open services:

    observe   journal facts + DescribeServices (+ revisions)   rollout/observe.py
    decide    pure, per service                                  rollout/decide.py
    act       UpdateService (RegisterTaskDefinition in pin mode) rollout/act.py
    record    journal (intent before effect) + events            rollout/record.py

Passes repeat, with a growing interval, until every service of the wave is verified, failed or
skipped. A pass trusts nothing from the passes before it, so a run killed at any moment is
continued by running it again, and no service gets two deployments for one target (see
docs/rollout.md). `run_pass` is the unit a workflow engine can run on its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.inventory.registry import EcrRegistry, Registry
from fleetpatch.journal import Entry, EntryKind, JournalStore, Lock, current_user
from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.conclude import (
    record_failure,
    service_deployment_arn,
    verify_and_record,
)
from fleetpatch.rollout.decide import (
    Action,
    Decision,
    decide,
    over_budget,
    strategy_timeout,
    tag_moved,
)
from fleetpatch.rollout.events import EventSink, NullSink
from fleetpatch.rollout.halt import halt_wave, time_out_late
from fleetpatch.rollout.observe import (
    Observation,
    journal_facts,
    observe_services,
    observe_stages,
)
from fleetpatch.rollout.plan import Plan, ServiceStep, Wave
from fleetpatch.rollout.record import Recorder, RolloutResult, ServiceResult
from fleetpatch.rollout.starts import Starts
from fleetpatch.rollout.waits import Clock, PollPolicy, RealClock
from fleetpatch.rollout.waves import WaveProgress

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient

__all__ = ["Rollout", "RolloutOptions", "RolloutResult", "ServiceResult", "new_rollout_id"]


@dataclass(frozen=True)
class RolloutOptions:
    poll: PollPolicy = field(default_factory=PollPolicy)
    # Start again services whose last deployment to this target failed.
    retry_failed: bool = False
    # UpdateService / RegisterTaskDefinition calls in flight at once within a wave.
    workers: int = 8
    # Pin mode, rollback (rollback.py): service key -> an existing task definition to return
    # to, instead of registering a new pinned revision.
    task_definitions: Mapping[str, str] = field(default_factory=dict)


def new_rollout_id() -> str:
    return "r-" + uuid.uuid4().hex[:12]


class Rollout:
    """One run of a plan against one environment."""

    def __init__(
        self,
        plan: Plan,
        ecs: ECSClient,
        ecr: ECRClient,
        journal: JournalStore,
        *,
        lock: Lock | None = None,
        sink: EventSink | None = None,
        clock: Clock | None = None,
        options: RolloutOptions | None = None,
        actor: str | None = None,
        rollout_id: str | None = None,
        registry: Registry | None = None,
        writer: ECSClient | None = None,
    ) -> None:
        self.plan = plan
        self.ecs = ecs
        # UpdateService / RegisterTaskDefinition: a client that never retries them blindly
        # (AwsEnvironment.ecs_writes); `ecs` when not given.
        self.writer = writer or ecs
        self.ecr = ecr
        # Where the moving tag lives (another account's ECR, an OCI registry); own ECR else.
        self.registry = registry or EcrRegistry(ecr)
        self.journal = journal
        self.clock = clock or RealClock()
        self.options = options or RolloutOptions()
        self.rollout_id = rollout_id or new_rollout_id()
        self.record = Recorder(
            plan, journal, sink or NullSink(), actor or current_user(), self.rollout_id
        )
        self._lock = lock
        self._lock_refreshed = time.monotonic()
        # service key -> service deployment ARN, for failure reports
        self._sd_arns: dict[str, str] = {}
        # Deployments this run has announced (started, adopted, or found journaled by an
        # earlier run): display only, so the live view gets one row per deployment.
        self._announced: set[str] = set()
        self._starts = Starts(
            self.ecs,
            self.writer,
            self.record,
            plan.mode,
            plan.target.digest,
            self.rollout_id,
            self.options.workers,
            self.options.task_definitions,
            self._sd_arns,
            self._announced,
        )

    @property
    def target(self) -> str:
        return self.plan.target.digest

    @property
    def sink(self) -> EventSink:
        return self.record.sink

    @sink.setter
    def sink(self, sink: EventSink) -> None:
        # The CLI chooses its output (live table, JSON lines) once the run is built.
        self.record.sink = sink

    # --- the loop ---------------------------------------------------------------------------

    def recall(self, entries: list[Entry]) -> None:
        """What earlier steps of this run journaled (a workflow runs each step in a process
        of its own): the results so far, and the deployments already announced, so that a
        pass announces each deployment once, not once per step."""
        self.record.recall(entries)
        self._announced.update(
            entry.deployment_id
            for entry in entries
            if entry.rollout_id == self.rollout_id
            and entry.kind is EntryKind.DEPLOYMENT_STARTED
            and entry.deployment_id is not None
        )

    def run(self) -> RolloutResult:
        self.record.planned(self.options.task_definitions)
        if self.plan.done:
            # Found on the target by the plan: verified and recorded as "wave 0".
            self._run_wave(Wave(0, False, self.plan.done), announce=False)
        for wave in self.plan.waves:
            if not self._run_wave(wave):
                break
        self.record.finished()
        return self.record.result

    def _not_started_after_halt(self, wave: int) -> None:
        """Every planned service the halt left without a result (not started in the halted
        wave, or in a later one) is journaled as skipped, saying so: the summary and the
        report account for every service of the plan."""
        for step in self.plan.services:
            if step.key not in self.record.result.services:
                reason = f"not deployed: the rollout halted in wave {wave}"
                self.record.skipped(step.key, reason)

    def _run_wave(self, wave: Wave, *, announce: bool = True) -> bool:
        """Run passes until every service of the wave is concluded; False: halt."""
        self.clock.sleep(0)  # a stop requested since the last wave (Ctrl-C) ends the run here
        self._heartbeat(force=True)
        progress = self.start_wave(wave, announce=announce)
        interval = self.options.poll.interval
        while progress.open:
            halt = self.run_pass(progress)
            if halt is None:
                halt = self.judge(progress)
            if halt is not None:
                if announce:
                    self.halt(progress, halt)
                else:
                    self._halt(progress, halt)
                return False
            if not progress.open:
                break
            self._heartbeat()
            self.clock.sleep(interval)
            interval = self.next_interval(interval)
        self.end_wave(progress)
        return True

    # --- the steps a workflow runs one at a time (fleetpatch.workflow) -----------------------

    def start_wave(self, wave: Wave, *, announce: bool = True) -> WaveProgress:
        """The wave's progress, every service open; announced unless it is wave 0 (the
        services the plan found on the target, verified only)."""
        if announce:
            keys = [s.key for s in wave.services]
            self.record.emit(
                "wave_started", {"wave": wave.index, "canary": wave.canary, "services": keys}
            )
            self.record.result.waves_run += 1
        open_steps = {s.key: s for s in wave.services}
        return WaveProgress(wave, open_steps, started_at=self.clock.now())

    def judge(self, progress: WaveProgress) -> str | None:
        """After a pass: fail the services whose wait is over; a reason to halt when the
        wave's failures exceed the budget. A wave halts as soon as that happens, not when the
        rest of it has finished: what is still deploying is rolled back."""
        self._time_out(progress)
        if progress.wave.index == 0:
            return None  # found on the target: nothing of it was deployed, nothing to halt
        return self._over_budget(progress)

    def next_interval(self, interval: float) -> float:
        return min(self.options.poll.max_interval, interval * self.options.poll.backoff)

    def end_wave(self, progress: WaveProgress) -> None:
        wave = progress.wave
        if wave.index != 0:
            self.record.emit("wave_finished", {"wave": wave.index, "failed": self._failed(wave)})

    def halt(self, progress: WaveProgress, reason: str) -> None:
        """Stop the run in this wave: roll back what it still deploys; every planned service
        left without a result is journaled as skipped."""
        self._halt(progress, reason)
        self._not_started_after_halt(progress.wave.index)

    def _failed(self, wave: Wave) -> list[str]:
        results = self.record.result.services
        return [
            s.key for s in wave.services if s.key in results and results[s.key].status == "failed"
        ]

    def _over_budget(self, progress: WaveProgress) -> str | None:
        failed = self._failed(progress.wave)
        reason = over_budget(progress.wave.index, failed, self.plan.failure_budget)
        if reason is not None:
            self.record.emit("wave_finished", {"wave": progress.wave.index, "failed": failed})
        return reason

    def _halt(self, progress: WaveProgress, reason: str) -> None:
        halt_wave(
            self.ecs,
            self.journal,
            self.record,
            self.plan.environment,
            self.target,
            progress,
            reason,
            self._sd_arns,
        )

    def run_pass(self, progress: WaveProgress) -> str | None:
        """One pass: observe, decide, act, record. Returns a reason to halt, or None."""
        steps = progress.open
        facts = journal_facts(self.journal, self.plan.environment, self.target)
        try:
            seen = observe_services(
                self.ecs,
                steps,
                {k: s.container for k, s in steps.items()},
                skip_revisions=[k for k in steps if k in facts.started],
            )
        except (ClientError, BotoCoreError) as exc:
            if ecs_api.is_transient(exc):
                return None  # a throttled or failed read is just no news: next pass
            raise
        # Native strategies: what fleetpatch follows is judged by its service deployment.
        followed = observe_stages(self.ecs, seen, [k for k in steps if k in facts.started])
        for key, sd in followed.items():
            seen.services[key] = replace(seen.services[key], service_deployment=sd)
        for key in steps:
            if key not in progress.deadlines:
                service = seen.services[key].service or {}
                budget = strategy_timeout(
                    service.get("deploymentConfiguration"), self.options.poll.timeout / 60
                )
                progress.deadlines[key] = progress.started_at + budget
        decisions = {
            key: decide(
                step,
                seen.services[key],
                facts,
                self.target,
                retry_failed=self.options.retry_failed,
                planned_done=progress.wave.index == 0,
            )
            for key, step in steps.items()
        }
        to_start = [steps[k] for k, d in decisions.items() if d.action is Action.START]
        if to_start and self.plan.mode == "tag" and not progress.tag_checked:
            reason = self._tag_moved()
            if reason is not None:
                return reason
            progress.tag_checked = True
        if to_start:
            # Right before any change: a lock taken over (abort) stops the run here.
            self._heartbeat(force=True)
        # An intent with no answer journaled after it: an earlier attempt (this run's, or a run
        # killed mid-call) may have registered the pinned revision already (rollout/act.py).
        for refused in self._starts.start_all(progress, to_start, seen, set(facts.requested)):
            del progress.open[refused]
        stages = progress.stage_views(decisions, seen, followed)
        self._act_on_the_rest(progress, decisions, seen, stages)
        return None

    # --- acting on decisions ------------------------------------------------------------------

    def _tag_moved(self) -> str | None:
        target = self.plan.target
        found = self.registry.tag_digest(target.repository, target.tag) if target.tag else None
        now = {found} if found else set()
        return tag_moved(target.repository, target.tag, target.label, self.target, now)

    def _act_on_the_rest(
        self,
        progress: WaveProgress,
        decisions: dict[str, Decision],
        seen: Observation,
        stages: dict[str, dict[str, Any]],
    ) -> None:
        wave = progress.wave.index
        to_verify: list[tuple[ServiceStep, Decision]] = []
        for key, decision in decisions.items():
            step = progress.open.get(key)
            if step is None:
                continue  # concluded this pass already (AWS refused its start)
            service = seen.services[key].service
            if decision.action is Action.ADOPT and decision.deployment_id:
                self._announced.add(decision.deployment_id)
                details = _sd_details(service)
                self.record.started(step, wave, decision.deployment_id, details, adopted=True)
            elif decision.deployment_id and decision.deployment_id not in self._announced:
                # Journaled by an earlier run: this run waits for it instead of starting one.
                self._announced.add(decision.deployment_id)
                self.record.following(step, wave, decision.deployment_id)
            if decision.action is Action.WAIT:
                shown = progress.changed_progress(key, decision, service, stages.get(key, {}))
                if shown is not None:
                    self.record.emit("deployment_progress", shown)
            elif decision.action is Action.VERIFY:
                to_verify.append((step, decision))
            elif decision.action is Action.DEPLOY_FAILED:
                self._fail(step, decision.reason, decision.deployment_id, service, wave)
            elif decision.action is Action.SKIP:
                self.record.skipped(key, decision.reason)
            elif decision.action in (Action.FAILED_EARLIER, Action.GONE):
                self.record.failed_earlier(key, decision.reason)
            if decision.concludes:
                del progress.open[key]
        self._verify(to_verify, seen, wave)

    def _verify(
        self, items: Sequence[tuple[ServiceStep, Decision]], seen: Observation, wave: int
    ) -> None:
        verify_and_record(self.ecs, self.record, items, seen, wave, self._sd_arns)

    def _fail(
        self,
        step: ServiceStep,
        reason: str,
        deployment_id: str | None,
        service: dict[str, object] | None,
        wave: int,
    ) -> None:
        sd_arn = self._sd_arns.get(step.key) or service_deployment_arn(service)
        record_failure(self.ecs, self.record, step, reason, deployment_id, service, wave, sd_arn)

    def _time_out(self, progress: WaveProgress) -> None:
        time_out_late(
            self.journal,
            self.record,
            self.plan.environment,
            self.target,
            progress,
            now=self.clock.now(),
            timeout=self.options.poll.timeout,
        )

    def _heartbeat(self, force: bool = False) -> None:
        """Refresh the environment lock well before its ttl runs out (LockLost stops the run)."""
        if self._lock is None:
            return
        interval = self._lock.ttl.total_seconds() / 4
        if force or time.monotonic() - self._lock_refreshed >= interval:
            self._lock = self.journal.refresh_lock(self._lock)
            self._lock_refreshed = time.monotonic()


def _sd_details(service: Mapping[str, object] | None) -> dict[str, object]:
    arn = service_deployment_arn(service)
    return {"service_deployment_arn": arn} if arn else {}
