"""What fleetpatch could not patch, per environment, for the report. Pure.

Two sources, one entry per service:
- the fleet now: services fleetpatch may not deploy at all (rollout/plan.py `not_patchable`:
  CODE_DEPLOY or EXTERNAL controller, DRAINING, Express Mode), with the plan's own reason;
- the journal: services a run skipped (`skipped` records: someone else's deployment in
  progress, other containers would change, a reference moving-tag mode can't move ...) that
  no later record verified.

Each is outside fleetpatch's evidence: no fleetpatch record covers it, so whatever it runs
stays open (its findings keep counting against the patch clock) until it is patched some
other way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from fleetpatch.core.snapshot import Snapshot
from fleetpatch.journal import Entry, EntryKind
from fleetpatch.report.model import NotPatched, ServiceReport
from fleetpatch.rollout.plan import not_patchable

# After a verification the skip no longer stands: fleetpatch's evidence covers the service.
# (A rollback does not count: it moves a service back, which patches nothing.)
_CONCLUDED = frozenset({EntryKind.VERIFIED})


def not_patched(
    snapshot: Snapshot,
    sidecar: str,
    environment: str,
    entries: Iterable[Entry],
    services: Sequence[ServiceReport],
    until: datetime,
) -> tuple[NotPatched, ...]:
    """The services of `environment` fleetpatch did not patch, as of `until`, sorted."""
    reports = {s.service: s for s in services}
    found: dict[str, NotPatched] = {}
    for item in not_patchable(snapshot, sidecar):
        if item["environment"] == environment:
            found[item["service"]] = _entry(item["service"], item["reason"], reports)
    for key, skip in _open_skips(entries, environment, until).items():
        if key in found:
            # The fleet's reason is today's; the journal adds when a run met it.
            found[key] = _entry(key, found[key].reason, reports, skip)
            continue
        found[key] = _entry(key, str(skip.details.get("reason") or "skipped"), reports, skip)
    return tuple(found[key] for key in sorted(found))


def _open_skips(entries: Iterable[Entry], environment: str, until: datetime) -> dict[str, Entry]:
    """Per service, its last `skipped` record not followed by a verification."""
    latest: dict[str, Entry] = {}
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.environment != environment or entry.service is None:
            continue
        if entry.timestamp >= until:
            continue
        if entry.kind is EntryKind.SKIPPED:
            latest[entry.service] = entry
        elif entry.kind in _CONCLUDED:
            latest.pop(entry.service, None)
    return latest


def _entry(
    key: str, reason: str, reports: dict[str, ServiceReport], skip: Entry | None = None
) -> NotPatched:
    report = reports.get(key)
    return NotPatched(
        service=key,
        reason=reason,
        running=report.running if report is not None else (),
        status=report.worst_status if report is not None else "unknown",
        skipped_at=skip.timestamp if skip is not None else None,
        journal_seq=skip.seq if skip is not None else None,
    )
