"""A run's events read back from the journal: what a workflow step tells the notifier the run
did before it (the CLI's notifier saw those events live; a step's process did not)."""

from __future__ import annotations

from collections.abc import Iterable

from fleetpatch.journal import Entry, EntryKind
from fleetpatch.rollout.events import Event
from fleetpatch.rollout.plan import Plan


def journal_events(the_plan: Plan, entries: Iterable[Entry], rollout_id: str) -> list[Event]:
    """The `plan` event, then each journaled outcome of `rollout_id` as the event the engine
    emitted with it (verified, failed, service_skipped, halted, rolled_back)."""
    events = [Event("plan", the_plan.to_json())]
    for entry in entries:
        if entry.rollout_id != rollout_id:
            continue
        details = dict(entry.details or {})
        service = entry.service
        if entry.kind is EntryKind.VERIFIED and service:
            events.append(Event("verified", {"service": service, "note": details.get("note", "")}))
        elif entry.kind is EntryKind.FAILED and service:
            events.append(Event("failed", {"service": service, **details}))
        elif entry.kind is EntryKind.SKIPPED and service:
            reason = details.get("reason", "")
            events.append(Event("service_skipped", {"service": service, "reason": reason}))
        elif entry.kind is EntryKind.HALTED:
            events.append(Event("halted", details))
        elif entry.kind is EntryKind.NOTE and service and details.get("halt_rollback"):
            events.append(Event("rolled_back", {"service": service, **details}))
    return events
