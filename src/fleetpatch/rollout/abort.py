"""`fleetpatch abort --env E`: stop means stop.

    result = abort(journal, ecs, "dev", actor="alice")

1. Take the environment's lock from whoever holds it (journaled with the reason): a rollout
   still running loses it at its next heartbeat and starts nothing more.
2. Find the current rollout (the environment's latest plan) and its deployments still in
   flight: journaled as started, neither verified nor failed; or created by ECS right after
   a journaled intent whose answer was never journaled.
3. StopServiceDeployment(stopType=ROLLBACK) for each (rollout/act.py `stop_deployment`).
4. Journal each as failed ("aborted by ..."), the run as halted; release the lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fleetpatch.journal import EntryKind, JournalStore, NewEntry, default_lock_owner
from fleetpatch.journal.model import Entry
from fleetpatch.journal.queries import started_deployments
from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.act import Stopped, stop_deployment
from fleetpatch.rollout.decide import ours_unjournaled
from fleetpatch.rollout.observe import ServiceState, journal_facts

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


@dataclass
class AbortResult:
    environment: str
    rollout_id: str | None
    stopped: list[Stopped] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.stopped)


def abort(journal: JournalStore, ecs: ECSClient, environment: str, *, actor: str) -> AbortResult:
    """Stop the environment's current rollout and roll its in-flight deployments back."""
    lock = journal.acquire_lock(
        environment, default_lock_owner(), timedelta(minutes=2), take_over=f"abort by {actor}"
    )
    try:
        entries = journal.entries(environment=environment)
        plan = _current_plan(entries)
        if plan is None or plan.target_digest is None:
            return AbortResult(environment, None)
        result = AbortResult(environment, plan.rollout_id)
        in_flight = started_deployments(entries, environment, plan.target_digest)
        # A run killed (or taken over) between its intent and ECS's answer: the deployment
        # ECS created in the window after the intent is in flight too.
        in_flight.update(_requested_in_flight(journal, ecs, environment, plan.target_digest))
        arns = _service_deployment_arns(entries, environment)
        for service, deployment_id in sorted(in_flight.items()):
            stopped = stop_deployment(ecs, service, deployment_id, arns.get(deployment_id))
            result.stopped.append(stopped)
            _record(journal, plan, actor, service, deployment_id, stopped)
        journal.append(
            _entry(
                plan,
                actor,
                EntryKind.HALTED,
                details={
                    "reason": f"aborted by {actor}",
                    "aborted": [s.service for s in result.stopped],
                },
            )
        )
        return result
    finally:
        journal.release_lock(lock)


def _requested_in_flight(
    journal: JournalStore, ecs: ECSClient, environment: str, target: str
) -> dict[str, str]:
    facts = journal_facts(journal, environment, target)
    if not facts.requested:
        return {}
    described = ecs_api.describe_services(ecs, facts.requested)
    found = {}
    for service, answer in described.items():
        state = ServiceState(service, answer)
        ours = ours_unjournaled(state, facts.requested[service])
        if ours is not None and ours.get("rolloutState") == "IN_PROGRESS":
            found[service] = str(ours["id"])
    return found


def _current_plan(entries: list[Entry]) -> Entry | None:
    plans = [e for e in entries if e.kind is EntryKind.PLAN]
    return plans[-1] if plans else None


def _service_deployment_arns(entries: list[Entry], environment: str) -> dict[str, str]:
    """ECS deployment id -> its service deployment ARN, as `deployment_started` journaled."""
    found = {}
    for entry in entries:
        arn = entry.details.get("service_deployment_arn")
        if entry.kind is EntryKind.DEPLOYMENT_STARTED and entry.deployment_id and arn:
            found[entry.deployment_id] = str(arn)
    return found


def _record(
    journal: JournalStore,
    plan: Entry,
    actor: str,
    service: str,
    deployment_id: str,
    stopped: Stopped,
) -> None:
    reason = f"aborted by {actor}: {stopped.message}"
    journal.append(
        _entry(
            plan,
            actor,
            EntryKind.FAILED,
            service=service,
            deployment_id=deployment_id,
            details={"reason": reason, "aborted": True, "stopped": stopped.ok},
        )
    )


def _entry(plan: Entry, actor: str, kind: EntryKind, **fields: Any) -> NewEntry:
    return NewEntry(
        kind=kind,
        environment=plan.environment,
        actor=actor,
        sidecar=plan.sidecar,
        target_digest=plan.target_digest,
        rollout_id=plan.rollout_id,
        **fields,
    )
