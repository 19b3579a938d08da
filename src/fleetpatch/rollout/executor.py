"""The executor: runs a `Plan` wave by wave, waits, verifies, journals, halts.

    lock = journal.acquire_lock("dev", default_lock_owner(), ttl)
    result = Rollout(plan, ecs, ecr, journal, lock=lock, sink=sink).run()

It is level-triggered: before each wave it re-reads the wave's services and the journal, and
for each service does what is still needed, never more:

| what it finds | what it does |
|---|---|
| a deployment to the target in progress (journaled, or seen in ECS) | waits for it |
| the service on the target, journaled `verified` | skips it |
| the service on the target, not journaled `verified` | verifies and records it (and first |
| | journals as started a deployment a killed run never journaled: `_adopt_completed`) |
| the latest record for the target is `failed` (no `--retry-failed`) | counts it failed |
| anything else | starts one deployment |

So a run killed at any point is continued by running it again, and no service gets two
deployments for one target (see docs/rollout.md). Every action is journaled with the
`rollout_id`, the actor, digests before and after, and the ECS deployment id.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fleetpatch.aws.errors import DENIED_CODES, EXPIRED_CODES, INVALID_CODES
from fleetpatch.journal import (
    EntryKind,
    JournalStore,
    Lock,
    NewEntry,
    current_user,
    failed_services,
    started_deployments,
    verified_services,
)
from fleetpatch.journal.model import Entry
from fleetpatch.journal.queries import ever_started, first_plan_time
from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.events import Event, EventSink, NullSink
from fleetpatch.rollout.pin import PinError, pin_request
from fleetpatch.rollout.plan import Plan, ServiceStep, Wave
from fleetpatch.rollout.verify import Check, FailureReport, Verification, explain_failure, verify
from fleetpatch.rollout.waits import (
    Clock,
    Outcome,
    PollPolicy,
    Progress,
    RealClock,
    Tracked,
    wait_for,
)

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient


class Action(StrEnum):
    START = "start"
    ADOPT = "adopt"  # a deployment to the target is already running: wait for it
    RECORD = "record"  # already on the target but not journaled as verified: verify it
    SKIP = "skip"  # verified on the target, journaled
    FAILED_EARLIER = "failed_earlier"
    GONE = "gone"


@dataclass(frozen=True)
class Decision:
    action: Action
    deployment_id: str | None = None
    service_deployment_arn: str | None = None
    reason: str = ""


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


@dataclass
class ServiceResult:
    key: str
    status: str  # verified | failed | skipped
    reason: str = ""
    deployment_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class RolloutResult:
    rollout_id: str
    plan: Plan
    services: dict[str, ServiceResult] = field(default_factory=dict)
    halted: bool = False
    halt_reason: str = ""
    waves_run: int = 0

    def with_status(self, status: str) -> list[ServiceResult]:
        return [r for r in self.services.values() if r.status == status]

    @property
    def ok(self) -> bool:
        return not self.halted and not self.with_status("failed")


class TagMoved(Exception):
    """Moving-tag mode: the tag no longer points to the plan's target."""


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
    ) -> None:
        self.plan = plan
        self.ecs = ecs
        self.ecr = ecr
        self.journal = journal
        self.sink = sink or NullSink()
        self.clock = clock or RealClock()
        self.options = options or RolloutOptions()
        self.actor = actor or current_user()
        self.rollout_id = rollout_id or new_rollout_id()
        self._lock = lock
        self._lock_refreshed = time.monotonic()
        self._result = RolloutResult(self.rollout_id, plan)
        # service key -> service deployment ARN, for failure reports
        self._sd_arns: dict[str, str] = {}

    @property
    def target(self) -> str:
        return self.plan.target.digest

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> RolloutResult:
        plan = self.plan
        self._emit("plan", plan.to_json())
        self._record(
            EntryKind.PLAN,
            details={
                "mode": plan.mode,
                "chosen_by": plan.target.chosen_by,
                "label": plan.target.label,
                "waves": [[s.key for s in w.services] for w in plan.waves],
                "done": [s.key for s in plan.done],
                "skipped": [s.to_json() for s in plan.skipped],
            },
        )
        self._record_done(plan.done)
        for wave in plan.waves:
            if not self._run_wave(wave):
                break
        result = self._result
        self._emit(
            "finished",
            {
                "verified": len(result.with_status("verified")),
                "failed": len(result.with_status("failed")),
                "skipped": len(result.with_status("skipped")),
                "halted": result.halted,
                "ok": result.ok,
            },
        )
        return result

    def _run_wave(self, wave: Wave) -> bool:
        """Run one wave; False when the rollout must halt."""
        self._heartbeat(force=True)
        keys = [s.key for s in wave.services]
        self._emit("wave_started", {"wave": wave.index, "canary": wave.canary, "services": keys})
        self._result.waves_run += 1
        decisions = self._decide(wave.services)
        to_start = [s for s in wave.services if decisions[s.key].action is Action.START]
        if to_start and self.plan.mode == "tag":
            try:
                self._check_tag()
            except TagMoved as exc:
                return self._halt(str(exc), wave)
        tracked = self._start_all(wave, to_start, decisions)
        tracked += self._adopt_all(wave, decisions)
        self._settle_others(wave, decisions)
        outcomes = self._wait(tracked)
        self._conclude(wave, outcomes)
        failed = [
            k for k in keys if self._result.services.get(k, ServiceResult(k, "")).status == "failed"
        ]
        self._emit("wave_finished", {"wave": wave.index, "failed": failed})
        if len(failed) > self.plan.failure_budget:
            reason = (
                f"wave {wave.index}: {len(failed)} service(s) failed, more than the failure "
                f"budget of {self.plan.failure_budget}: {', '.join(failed)}"
            )
            return self._halt(reason, wave)
        return True

    # --- deciding, per service --------------------------------------------------------------

    def _decide(self, steps: Sequence[ServiceStep]) -> dict[str, Decision]:
        """Re-read the wave's services and the journal; decide what each one still needs."""
        entries = self.journal.entries(environment=self.plan.environment)
        verified = verified_services(entries, self.plan.environment, self.target)
        started = started_deployments(entries, self.plan.environment, self.target)
        failed = failed_services(entries, self.plan.environment, self.target)
        live = ecs_api.describe_services(self.ecs, [s.key for s in steps])
        revisions = self._live_revisions(live)
        decisions = {}
        for step in steps:
            service = live.get(step.key)
            revision = revisions.get(ecs_api.current_revision_arn(service or {}) or "")
            decisions[step.key] = decide(
                step,
                service,
                ecs_api.revision_digest(revision, step.container),
                self.target,
                verified=step.key in verified,
                journaled_deployment=started.get(step.key),
                failed_earlier=step.key in failed,
                retry_failed=self.options.retry_failed,
            )
        return decisions

    def _live_revisions(self, live: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
        arns = [arn for s in live.values() if s and (arn := ecs_api.current_revision_arn(s))]
        return ecs_api.describe_revisions(self.ecs, arns) if arns else {}

    # --- acting -----------------------------------------------------------------------------

    def _check_tag(self) -> None:
        tag = self.plan.target.tag
        if tag is None:
            raise TagMoved(
                f"moving-tag mode needs the target to be what a tag points to; "
                f"{self.plan.target.label} is not: use --pin"
            )
        answer = self.ecr.describe_images(
            repositoryName=self.plan.target.repository, imageIds=[{"imageTag": tag}]
        )
        digests = {str(d["imageDigest"]) for d in answer["imageDetails"]}
        if digests != {self.target}:
            now = ", ".join(sorted(digests)) or "nothing"
            raise TagMoved(
                f"the tag moved since the plan: {self.plan.target.repository}:{tag} now points "
                f"to {now}, not {self.target}; run the command again to plan for the new digest"
            )

    def _start_all(
        self, wave: Wave, steps: Sequence[ServiceStep], decisions: dict[str, Decision]
    ) -> list[Tracked]:
        if not steps:
            return []
        workers = max(1, min(self.options.workers, len(steps)))
        with ThreadPoolExecutor(workers, thread_name_prefix="fp-start") as pool:
            started = list(pool.map(lambda s: self._start_one(wave, s), steps))
        return [t for t in started if t is not None]

    def _start_one(self, wave: Wave, step: ServiceStep) -> Tracked | None:
        """Start one service's deployment; an AWS refusal fails that service, not the run."""
        try:
            return self._start(wave, step)
        except (ClientError, PinError) as exc:
            if isinstance(exc, ClientError) and _is_fatal(exc):
                raise  # credentials, permissions: every other call would fail the same way
            reason = f"could not start the deployment: {_aws_message(exc)}"
            self._fail(step, reason, Outcome(step.key, "", "FAILED", reason, None), wave.index)
            return None

    def _start(self, wave: Wave, step: ServiceStep) -> Tracked:
        cluster, service = ecs_api.split_key(step.key)
        details: dict[str, Any] = {"wave": wave.index, "mode": self.plan.mode}
        if self.plan.mode == "pin" and step.key in self.options.task_definitions:
            # Rollback in pin mode: back to the revision the service ran before.
            arn = self.options.task_definitions[step.key]
            details.update(task_definition_before=step.task_definition, task_definition=arn)
            answer = self.ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
        elif self.plan.mode == "pin":
            described = self.ecs.describe_task_definition(
                taskDefinition=step.task_definition, include=["TAGS"]
            )
            request = pin_request(dict(described), step.container, self.target)
            registered = self.ecs.register_task_definition(**request)
            arn = str(registered["taskDefinition"]["taskDefinitionArn"])
            details.update(task_definition_before=step.task_definition, task_definition=arn)
            answer = self.ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
        else:
            answer = self.ecs.update_service(
                cluster=cluster, service=service, forceNewDeployment=True
            )
        live: dict[str, Any] = dict(answer["service"])
        current = ecs_api.primary(live) or {}
        deployment_id = str(current.get("id", ""))
        sd_arn = live.get("currentServiceDeployment")
        if sd_arn:
            details["service_deployment_arn"] = sd_arn
            self._sd_arns[step.key] = str(sd_arn)
        self._record(
            EntryKind.DEPLOYMENT_STARTED,
            service=step.key,
            digest_before=step.digest_before,
            deployment_id=deployment_id,
            details=details,
        )
        self._emit(
            "deployment_started",
            {
                "service": step.key,
                "wave": wave.index,
                "deployment_id": deployment_id,
                "digest_before": step.digest_before,
                "mode": self.plan.mode,
                "adopted": False,
            },
        )
        return Tracked(step.key, deployment_id)

    def _adopt_all(self, wave: Wave, decisions: dict[str, Decision]) -> list[Tracked]:
        tracked = []
        for step in wave.services:
            decision = decisions[step.key]
            if decision.action is not Action.ADOPT or decision.deployment_id is None:
                continue
            if decision.service_deployment_arn:
                self._sd_arns[step.key] = decision.service_deployment_arn
            if decision.reason == "seen in ECS":
                # Started by a run that died before journaling it: journal it now.
                self._record(
                    EntryKind.DEPLOYMENT_STARTED,
                    service=step.key,
                    digest_before=step.digest_before,
                    deployment_id=decision.deployment_id,
                    details={"wave": wave.index, "mode": self.plan.mode, "adopted": True},
                )
            self._emit(
                "deployment_started",
                {
                    "service": step.key,
                    "wave": wave.index,
                    "deployment_id": decision.deployment_id,
                    "digest_before": step.digest_before,
                    "mode": self.plan.mode,
                    "adopted": True,
                },
            )
            tracked.append(Tracked(step.key, decision.deployment_id))
        return tracked

    def _settle_others(self, wave: Wave, decisions: dict[str, Decision]) -> None:
        """Services that need no deployment: skipped, verified now, or failed already."""
        to_record = []
        for step in wave.services:
            decision = decisions[step.key]
            if decision.action is Action.SKIP:
                self._skip(step.key, decision.reason)
            elif decision.action is Action.RECORD:
                to_record.append(step)
            elif decision.action in (Action.FAILED_EARLIER, Action.GONE):
                self._result.services[step.key] = ServiceResult(step.key, "failed", decision.reason)
                self._emit(
                    "failed", {"service": step.key, "reason": decision.reason, "earlier": True}
                )
        self._verify_unrecorded(to_record, wave.index)

    def _wait(self, tracked: list[Tracked]) -> dict[str, Outcome]:
        if not tracked:
            return {}

        def progress(p: Progress) -> None:
            self._emit(
                "deployment_progress",
                {
                    "service": p.key,
                    "running": p.running,
                    "desired": p.desired,
                    "rollout_state": p.rollout_state,
                },
            )

        return wait_for(
            self.ecs,
            tracked,
            clock=self.clock,
            poll=self.options.poll,
            on_progress=progress,
            heartbeat=self._heartbeat,
        )

    def _conclude(self, wave: Wave, outcomes: dict[str, Outcome]) -> None:
        steps = {s.key: s for s in wave.services}
        completed = [steps[k] for k, o in outcomes.items() if o.state == "COMPLETED"]
        services = {k: o.service for k, o in outcomes.items()}
        deployments = {k: o.deployment_id for k, o in outcomes.items()}
        self._verify_and_record(completed, services, wave.index, deployments=deployments)
        for key, outcome in outcomes.items():
            if outcome.state != "COMPLETED":
                self._fail(steps[key], outcome.reason, outcome, wave.index)

    def _verify_and_record(
        self,
        steps: Sequence[ServiceStep],
        services: dict[str, dict[str, Any] | None],
        wave: int,
        *,
        deployments: dict[str, str] | None = None,
        note: str = "",
    ) -> None:
        if not steps:
            return
        if not services:
            services = dict(ecs_api.describe_services(self.ecs, [s.key for s in steps]))
        checks = [
            Check(
                key=s.key,
                container=s.container,
                digest=self.target,
                desired_count=s.desired_count,
                revision_arn=ecs_api.current_revision_arn(services.get(s.key) or {}),
            )
            for s in steps
        ]
        results = verify(self.ecs, checks)
        for step in steps:
            verdict = results[step.key]
            deployment_id = (deployments or {}).get(step.key)
            if verdict.ok:
                self._verified(step, verdict, deployment_id, wave, note)
                continue
            outcome = Outcome(
                step.key, deployment_id or "", "FAILED", verdict.reason, services.get(step.key)
            )
            self._fail(step, f"verification failed: {verdict.reason}", outcome, wave)

    def _verified(
        self,
        step: ServiceStep,
        verdict: Verification,
        deployment_id: str | None,
        wave: int,
        note: str,
    ) -> None:
        details: dict[str, Any] = {"wave": wave, "tasks": verdict.tasks}
        if note:
            details["note"] = note
        self._record(
            EntryKind.VERIFIED,
            service=step.key,
            digest_before=step.digest_before,
            digest_after=self.target,
            deployment_id=deployment_id,
            details=details,
        )
        self._result.services[step.key] = ServiceResult(
            step.key, "verified", note, deployment_id, details
        )
        self._emit(
            "verified",
            {"service": step.key, "digest": self.target, "tasks": verdict.tasks, "note": note},
        )

    def _fail(self, step: ServiceStep, reason: str, outcome: Outcome, wave: int) -> None:
        report = FailureReport()
        if outcome.deployment_id:
            report = explain_failure(
                self.ecs,
                step.key,
                outcome.deployment_id,
                outcome.service,
                self._sd_arns.get(step.key),
            )
        if report.rolled_back:
            # ECS's own words first: why the deployment failed, then that it rolled back.
            why = report.deployment_status_reason or "the deployment circuit breaker tripped"
            reason = (
                f"deployment {outcome.deployment_id} failed: {why}; ECS rolled the service back"
            )
        if report.stopped_reasons:
            reason += f"; tasks stopped: {report.stopped_reasons[0]}"
        details: dict[str, Any] = {"wave": wave, "reason": reason, **report.to_json()}
        self._record(
            EntryKind.FAILED,
            service=step.key,
            digest_before=step.digest_before,
            deployment_id=outcome.deployment_id or None,
            details=details,
        )
        self._result.services[step.key] = ServiceResult(
            step.key, "failed", reason, outcome.deployment_id or None, details
        )
        self._emit("failed", {"service": step.key, **details})

    def _skip(self, key: str, reason: str) -> None:
        self._result.services[key] = ServiceResult(key, "skipped", reason)
        self._emit("service_skipped", {"service": key, "reason": reason})

    def _halt(self, reason: str, wave: Wave) -> bool:
        failed = [r.key for r in self._result.with_status("failed")]
        self._record(
            EntryKind.HALTED, details={"reason": reason, "wave": wave.index, "failed": failed}
        )
        self._result.halted = True
        self._result.halt_reason = reason
        self._emit("halted", {"reason": reason, "wave": wave.index, "failed": failed})
        return False

    def _record_done(self, done: Sequence[ServiceStep]) -> None:
        """Services the plan found on the target: record those the journal doesn't know yet."""
        if not done:
            return
        entries = self.journal.entries(environment=self.plan.environment)
        verified = verified_services(entries, self.plan.environment, self.target)
        for step in done:
            if step.key in verified:
                self._skip(step.key, "already verified on the target")
        missing = [s for s in done if s.key not in verified]
        self._verify_unrecorded(missing, 0)

    def _verify_unrecorded(self, steps: Sequence[ServiceStep], wave: int) -> None:
        """Services found on the target that the journal doesn't record as verified there."""
        if not steps:
            return
        services = ecs_api.describe_services(self.ecs, [s.key for s in steps])
        deployments = self._adopt_completed(steps, services, wave)
        self._verify_and_record(
            steps, services, wave, deployments=deployments, note="already on the target"
        )

    def _adopt_completed(
        self,
        steps: Sequence[ServiceStep],
        services: Mapping[str, dict[str, Any] | None],
        wave: int,
    ) -> dict[str, str]:
        """Journal the deployments a killed run started but never journaled; key -> id.

        A run killed between UpdateService and its `deployment_started` leaves a deployment the
        journal never saw. When it completes before the rerun reads the fleet, the service just
        looks "already on the target". Its PRIMARY deployment is that one when ECS created it
        after fleetpatch first planned this target and no `deployment_started` to the target is
        journaled for the service; a service that was on the target before any plan keeps none.
        """
        entries = self.journal.entries(environment=self.plan.environment)
        since = first_plan_time(entries, self.plan.environment, self.target)
        if since is None:
            return {}
        journaled = ever_started(entries, self.plan.environment, self.target)
        adopted = {}
        for step in steps:
            service = services.get(step.key)
            current = ecs_api.primary(service or {})
            if step.key in journaled or current is None or not _created_since(current, since):
                continue
            adopted[step.key] = self._record_adopted_completed(step, current, service or {}, wave)
        return adopted

    def _record_adopted_completed(
        self, step: ServiceStep, current: dict[str, Any], service: dict[str, Any], wave: int
    ) -> str:
        deployment_id = str(current.get("id", ""))
        found = "completed before this run saw it"
        details: dict[str, Any] = {
            "wave": wave,
            "mode": self.plan.mode,
            "adopted": True,
            "found": found,
        }
        if service.get("currentServiceDeployment"):
            details["service_deployment_arn"] = service["currentServiceDeployment"]
        # The plan read the service on the target already: what it ran before is unknown here.
        before = step.digest_before if step.digest_before != self.target else None
        self._record(
            EntryKind.DEPLOYMENT_STARTED,
            service=step.key,
            digest_before=before,
            deployment_id=deployment_id,
            details=details,
        )
        self._emit(
            "deployment_started",
            {
                "service": step.key,
                "wave": wave,
                "deployment_id": deployment_id,
                "digest_before": before,
                "mode": self.plan.mode,
                "adopted": True,
                "found": found,
            },
        )
        return deployment_id

    # --- journal, events, lock ----------------------------------------------------------------

    def _record(self, kind: EntryKind, **fields: Any) -> Entry:
        return self.journal.append(
            NewEntry(
                kind=kind,
                environment=self.plan.environment,
                actor=self.actor,
                sidecar=self.plan.sidecar,
                target_digest=self.target,
                rollout_id=self.rollout_id,
                **fields,
            )
        )

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self.sink.emit(Event(kind, data))

    def _heartbeat(self, force: bool = False) -> None:
        """Refresh the environment lock well before its ttl runs out (LockLost stops the run)."""
        if self._lock is None:
            return
        interval = self._lock.ttl.total_seconds() / 4
        if force or time.monotonic() - self._lock_refreshed >= interval:
            self._lock = self.journal.refresh_lock(self._lock)
            self._lock_refreshed = time.monotonic()


# --- the decision, pure ---------------------------------------------------------------------


def decide(
    step: ServiceStep,
    service: dict[str, Any] | None,
    revision_digest: str | None,
    target: str,
    *,
    verified: bool,
    journaled_deployment: str | None,
    failed_earlier: bool,
    retry_failed: bool = False,
) -> Decision:
    """What one service still needs, from ECS's answer now and the journal."""
    if service is None:
        return Decision(Action.GONE, reason="the service no longer exists")
    current = ecs_api.primary(service) or {}
    state = current.get("rolloutState")
    sd_arn = service.get("currentServiceDeployment")
    # A deployment the journal knows of, still in ECS: wait for it, whatever its state.
    if journaled_deployment and ecs_api.deployment(service, journaled_deployment) is not None:
        return Decision(Action.ADOPT, journaled_deployment, sd_arn, "journaled")
    on_target_revision = revision_digest == target
    if on_target_revision and state == "IN_PROGRESS":
        return Decision(Action.ADOPT, str(current.get("id")), sd_arn, "seen in ECS")
    settled = state == "COMPLETED" and len(service.get("deployments", [])) == 1
    if on_target_revision and settled:
        if verified:
            return Decision(Action.SKIP, reason="already verified on the target")
        return Decision(Action.RECORD, reason="on the target")
    # A journaled deployment gone from ECS while the service is not on the target was rolled
    # back or replaced while no run watched: like a recorded failure, don't start another blindly.
    if (failed_earlier or journaled_deployment) and not retry_failed:
        return Decision(
            Action.FAILED_EARLIER,
            reason="its deployment to this target failed in an earlier run (ECS events in "
            "`fleetpatch history`): fix the cause, then run again with --retry-failed",
        )
    return Decision(Action.START)


def _created_since(deployment: dict[str, Any], since: datetime) -> bool:
    """Whether ECS created the deployment at or after `since` (both compared in UTC)."""
    created = deployment.get("createdAt")
    if not isinstance(created, datetime):
        return False  # no creation time: it can't be proven to be ours
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(UTC) >= since.astimezone(UTC)


def _is_fatal(exc: ClientError) -> bool:
    """Errors about who we are, not about the service: stop the run (the CLI explains them)."""
    code = exc.response.get("Error", {}).get("Code", "")
    return code in EXPIRED_CODES | INVALID_CODES | DENIED_CODES


def _aws_message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name}: {error.get('Code', '')}: {error.get('Message', '')}"
    return str(exc)
