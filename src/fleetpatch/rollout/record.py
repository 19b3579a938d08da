"""Record: every decision acted on goes to the journal (append-only, intent before effect) and
to the event sink (the live table, --json), and into the run's result.

Each record names the rollout id, the actor, the sidecar, the target digest, and for a service
its digest before and the ECS deployment id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleetpatch.journal import EntryKind, JournalStore, NewEntry
from fleetpatch.journal.model import Entry
from fleetpatch.rollout.act import Stopped
from fleetpatch.rollout.events import Event, EventSink
from fleetpatch.rollout.plan import Plan, ServiceStep
from fleetpatch.rollout.plan_record import plan_record


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
    # Where the waves run when not in this process (a Step Functions execution's ARN, see
    # Runner.handoff); None: they ran here and the result is final.
    execution: str | None = None

    def with_status(self, status: str) -> list[ServiceResult]:
        return [r for r in self.services.values() if r.status == status]

    @property
    def ok(self) -> bool:
        return not self.halted and not self.with_status("failed")


class Recorder:
    """The journal, the events and the result of one run, written together."""

    def __init__(
        self, plan: Plan, journal: JournalStore, sink: EventSink, actor: str, rollout_id: str
    ) -> None:
        self.plan = plan
        self.journal = journal
        self.sink = sink
        self.actor = actor
        self.rollout_id = rollout_id
        self.result = RolloutResult(rollout_id, plan)

    @property
    def target(self) -> str:
        return self.plan.target.digest

    def planned(self, task_definitions: Mapping[str, str] | None = None) -> None:
        """The plan, journaled whole before anything changes; `task_definitions`: the
        revisions a rollback redeploys (the workflow's steps read them back)."""
        plan = self.plan
        self.emit("plan", plan.to_json())
        extra: dict[str, Any] = {}
        if task_definitions:
            extra["task_definitions"] = dict(task_definitions)
        self.append(
            EntryKind.PLAN,
            details={
                "mode": plan.mode,
                "chosen_by": plan.target.chosen_by,
                "label": plan.target.label,
                "waves": [[s.key for s in w.services] for w in plan.waves],
                "done": [s.key for s in plan.done],
                "skipped": [s.to_json() for s in plan.skipped],
                "notes": list(plan.notes),
                # The whole plan: a workflow's steps run exactly this one (plan_record.py).
                "plan": plan_record(plan),
                **extra,
            },
        )
        for skipped in plan.skipped:
            self.skipped(skipped.key, skipped.reason)

    def requested(self, step: ServiceStep, wave: int, aws_now: datetime | None) -> None:
        """Intent, before UpdateService: a deployment ECS creates in the window after it is
        provably this run's, even if the answer is lost (rollout/observe.py)."""
        details: dict[str, Any] = {"wave": wave, "mode": self.plan.mode}
        if aws_now is not None:
            details["aws_time"] = aws_now.isoformat()
        self.append(
            EntryKind.DEPLOYMENT_REQUESTED,
            service=step.key,
            digest_before=step.digest_before,
            details=details,
        )
        self.emit("deployment_requested", {"service": step.key, **details})

    def started(
        self,
        step: ServiceStep,
        wave: int,
        deployment_id: str,
        details: dict[str, Any],
        *,
        adopted: bool = False,
    ) -> None:
        found = {"adopted": True, "found": "created after fleetpatch's request"} if adopted else {}
        self.append(
            EntryKind.DEPLOYMENT_STARTED,
            service=step.key,
            digest_before=step.digest_before,
            deployment_id=deployment_id,
            details={"wave": wave, "mode": self.plan.mode, **details, **found},
        )
        self._announce(step, wave, deployment_id, adopted)

    def following(self, step: ServiceStep, wave: int, deployment_id: str) -> None:
        """A deployment an earlier run started and journaled: this run waits for it (an event
        only: the journal has it already)."""
        self._announce(step, wave, deployment_id, adopted=True)

    def _announce(self, step: ServiceStep, wave: int, deployment_id: str, adopted: bool) -> None:
        self.emit(
            "deployment_started",
            {
                "service": step.key,
                "wave": wave,
                "deployment_id": deployment_id,
                "digest_before": step.digest_before,
                "mode": self.plan.mode,
                "adopted": adopted,
            },
        )

    def verified(
        self, step: ServiceStep, tasks: int, deployment_id: str | None, wave: int, note: str
    ) -> None:
        details: dict[str, Any] = {"wave": wave, "tasks": tasks}
        if note:
            details["note"] = note
        self.append(
            EntryKind.VERIFIED,
            service=step.key,
            digest_before=step.digest_before,
            digest_after=self.target,
            deployment_id=deployment_id,
            details=details,
        )
        self.result.services[step.key] = ServiceResult(
            step.key, "verified", note, deployment_id, details
        )
        self.emit(
            "verified", {"service": step.key, "digest": self.target, "tasks": tasks, "note": note}
        )

    def failed(
        self, step: ServiceStep, reason: str, deployment_id: str | None, details: dict[str, Any]
    ) -> None:
        details = {**details, "reason": reason}
        self.append(
            EntryKind.FAILED,
            service=step.key,
            digest_before=step.digest_before,
            deployment_id=deployment_id,
            details=details,
        )
        self.result.services[step.key] = ServiceResult(
            step.key, "failed", reason, deployment_id, details
        )
        self.emit("failed", {"service": step.key, **details})

    def failed_earlier(self, key: str, reason: str) -> None:
        """Counted failed in this run; the journal already says so."""
        self.result.services[key] = ServiceResult(key, "failed", reason)
        self.emit("failed", {"service": key, "reason": reason, "earlier": True})

    def skipped(self, key: str, reason: str) -> None:
        """Journaled too: the report lists what fleetpatch did not patch, and why."""
        step = next((s for s in self.plan.services if s.key == key), None)
        self.append(
            EntryKind.SKIPPED,
            service=key,
            digest_before=step.digest_before if step is not None else None,
            details={"reason": reason},
        )
        self.result.services[key] = ServiceResult(key, "skipped", reason)
        self.emit("service_skipped", {"service": key, "reason": reason})

    def halted(self, reason: str, wave: int, rolling_back: Mapping[str, str] | None = None) -> None:
        """The run stops here. `rolling_back` (service -> deployment id): the wave's deployments
        still in flight, which the halt is about to stop (journaled before it does)."""
        failed = [r.key for r in self.result.with_status("failed")]
        details: dict[str, Any] = {"reason": reason, "wave": wave, "failed": failed}
        if rolling_back:
            details["rolling_back"] = dict(rolling_back)
        self.append(EntryKind.HALTED, details=details)
        self.result.halted = True
        self.result.halt_reason = reason
        self.emit("halted", details)

    def rolled_back(self, step: ServiceStep, wave: int, stopped: Stopped, concluded: bool) -> None:
        """What StopServiceDeployment answered for a deployment the halt stopped. A service
        still open fails with it; one already failed (timed out) gets it as a note."""
        if stopped.ok:
            text = "ECS rolls it back to the previous revision"
        else:
            text = f"could not stop it: {stopped.message}"
        reason = (
            f"the rollout halted in wave {wave} while deployment {stopped.deployment_id} "
            f"was in flight: {text}"
        )
        details = {"wave": wave, "halt_rollback": True, "stopped": stopped.ok}
        if not concluded:
            self.failed(step, reason, stopped.deployment_id, details)
            return
        self.append(
            EntryKind.NOTE,
            service=step.key,
            deployment_id=stopped.deployment_id,
            details={**details, "reason": reason},
        )
        earlier = self.result.services.get(step.key)
        if earlier is not None:
            earlier.reason = f"{earlier.reason}; {reason}"
        self.emit("rolled_back", {"service": step.key, "reason": reason, "stopped": stopped.ok})

    def recall(self, entries: list[Entry]) -> None:
        """What earlier steps of this run journaled, back into the result: a workflow runs
        each step in another process (fleetpatch.workflow)."""
        outcome = {
            EntryKind.VERIFIED: "verified",
            EntryKind.FAILED: "failed",
            EntryKind.SKIPPED: "skipped",
        }
        for entry in entries:
            if entry.rollout_id != self.rollout_id:
                continue
            status = outcome.get(entry.kind)
            if status is not None and entry.service is not None:
                details = dict(entry.details or {})
                reason = str(details.get("reason") or details.get("note") or "")
                self.result.services[entry.service] = ServiceResult(
                    entry.service, status, reason, entry.deployment_id, details
                )
            elif entry.kind is EntryKind.HALTED:
                self.result.halted = True
                self.result.halt_reason = str((entry.details or {}).get("reason", ""))

    def finished(self) -> None:
        result = self.result
        self.emit(
            "finished",
            {
                "verified": len(result.with_status("verified")),
                "failed": len(result.with_status("failed")),
                "skipped": len(result.with_status("skipped")),
                "halted": result.halted,
                "ok": result.ok,
            },
        )

    def append(self, kind: EntryKind, **fields: Any) -> Entry:
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

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.sink.emit(Event(kind, data))
