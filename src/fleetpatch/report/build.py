"""Build the evidence `Report` for one month from gathered evidence. Pure.

as_of    = today, or the period's last day for a past month: the clock is computed as it
           stood then (timelines cut at the end of that day), so a November report
           rendered in January still says what was true in November
findings = every critical and high vulnerability a service ran that was still open at
           `as_of`, or was patched during the period (patched earlier: an earlier
           period's evidence)
spans    = the digests each service ran during the period
deployments = the journal's verified changes in the period, with who ran and approved
           them and the task digests observed
not_patched = per environment, what fleetpatch could not patch (report/not_patched.py)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from fleetpatch.compliance.clock import ClockEntry, DigestTimeline, PatchPolicy, Status
from fleetpatch.compliance.evidence import FleetEvidence
from fleetpatch.compliance.fixes import Fixes
from fleetpatch.compliance.timeline import clip
from fleetpatch.journal import Entry, EntryKind
from fleetpatch.report.model import (
    Deployment,
    EnvironmentReport,
    FindingLine,
    Period,
    Report,
    ServiceReport,
    Span,
)
from fleetpatch.report.not_patched import not_patched

_ARRIVED = frozenset({EntryKind.VERIFIED, EntryKind.ROLLBACK_COMPLETED})


def build_report(
    evidence: FleetEvidence,
    period: Period,
    policy: PatchPolicy,
    today: date,
    generated_at: datetime,
) -> Report:
    as_of = min(today, period.next_first_day - timedelta(days=1))
    until = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) + timedelta(days=1)
    timelines = [clip(t, until) for t in evidence.timelines]
    # A fix pushed after `as_of` did not exist yet on that day.
    evidence = replace(evidence, fixes=_fixes_known_on(evidence.fixes, as_of))
    clock = [e for e in evidence.clock(policy, as_of, timelines) if _in_period(e, period)]
    deployments = _deployments(evidence, period, until)

    environments = []
    for env in evidence.snapshot.environments:
        services = tuple(
            _service(evidence, t, clock, deployments, period)
            for t in timelines
            if t.environment == env.name
        )
        target = evidence.targets.get(env.name)
        environments.append(
            EnvironmentReport(
                name=env.name,
                account=env.account,
                region=env.region,
                target=evidence.label(target) if target else None,
                services=services,
                error=env.error,
                not_patched=not_patched(
                    evidence.snapshot,
                    evidence.sidecar.name,
                    env.name,
                    evidence.entries,
                    services,
                    until,
                ),
            )
        )
    return Report(
        title=f"{evidence.sidecar.name} patch evidence, {period.label}",
        sidecar=evidence.sidecar.name,
        repository=evidence.sidecar.repository,
        period=period,
        as_of=as_of,
        generated_at=generated_at,
        policy=tuple(
            (severity.label, days)
            for severity, days in sorted(policy.deadline_days.items(), reverse=True)
        ),
        environments=tuple(environments),
        fixes=_fixes(evidence, clock),
        notes=evidence.notes,
    )


def _fixes_known_on(fixes: Fixes, as_of: date) -> Fixes:
    return {
        repository: {v: fix for v, fix in by_id.items() if fix.since <= as_of}
        for repository, by_id in fixes.items()
    }


def _in_period(entry: ClockEntry, period: Period) -> bool:
    if entry.status is not Status.COMPLIANT or entry.patched_on is None:
        return True
    return entry.patched_on >= period.first_day


def _service(
    evidence: FleetEvidence,
    timeline: DigestTimeline,
    clock: Sequence[ClockEntry],
    deployments: Sequence[_Journaled],
    period: Period,
) -> ServiceReport:
    key = (timeline.environment, timeline.service)
    mine = [e for e in clock if (e.environment, e.service) == key]
    vulnerable = {digest for entry in mine for digest in entry.digests}
    own_deployments = [d for d in deployments if (d.environment, d.service) == key]
    findings = tuple(
        _finding(evidence, entry, _patching(entry, own_deployments))
        for entry in sorted(mine, key=lambda e: (-e.severity, e.vulnerability_id))
    )
    spans = tuple(
        Span(
            digest=i.digest,
            label=evidence.label(i.digest),
            start=max(i.start, period.start),
            end=i.end,
            vulnerable=i.digest in vulnerable,
        )
        for i in timeline.intervals
        if i.end is None or i.end >= period.start
    )
    running = tuple(evidence.label(i.digest) for i in timeline.intervals if i.end is None)
    return ServiceReport(
        environment=timeline.environment,
        service=timeline.service,
        running=running,
        spans=spans,
        findings=findings,
        deployments=tuple(d.record for d in own_deployments),
    )


def _finding(
    evidence: FleetEvidence, entry: ClockEntry, deployment: Deployment | None
) -> FindingLine:
    f = entry.finding
    fix_label = None
    if entry.fix is not None:
        fix_label = "recorded" if entry.fix.recorded else evidence.label(entry.fix.digest)
    return FindingLine(
        vulnerability_id=f.vulnerability_id,
        severity=f.severity.label,
        package=f.package,
        installed_version=f.installed_version,
        fixed_version=f.fixed_version,
        description=f.description,
        vulnerable_digests=tuple(evidence.label(d) for d in entry.digests),
        fix_available=entry.fix.since if entry.fix else None,
        fix_label=fix_label,
        clock_start=entry.start,
        deadline=entry.deadline,
        status=entry.status.value,
        patched_on=entry.patched_on,
        days_taken=entry.days_taken,
        days_left=entry.days_left,
        on_time=entry.on_time,
        deployment=deployment,
    )


def _fixes(
    evidence: FleetEvidence, clock: Sequence[ClockEntry]
) -> tuple[tuple[str, date, str], ...]:
    seen: dict[str, tuple[str, date, str]] = {}
    for entry in clock:
        if entry.fix is not None and entry.vulnerability_id not in seen:
            by = "recorded" if entry.fix.recorded else evidence.label(entry.fix.digest)
            seen[entry.vulnerability_id] = (entry.vulnerability_id, entry.fix.since, by)
    return tuple(sorted(seen.values()))


# --- the journal's verified changes ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Journaled:
    """A Deployment plus where it happened (the model's Deployment sits under its service)."""

    environment: str
    service: str
    record: Deployment


def _deployments(evidence: FleetEvidence, period: Period, until: datetime) -> list[_Journaled]:
    entries = sorted(evidence.entries, key=lambda e: e.seq)
    found = []
    for entry in entries:
        if entry.kind not in _ARRIVED or entry.service is None or not entry.digest_after:
            continue
        if not period.start <= entry.timestamp < until:
            continue
        record = Deployment(
            at=entry.timestamp,
            digest_before=entry.digest_before,
            label_before=evidence.label(entry.digest_before),
            digest_after=entry.digest_after,
            label_after=evidence.label(entry.digest_after),
            actor=entry.actor,
            approved_by=_approvers(entries, entry),
            deployment_id=entry.deployment_id,
            rollout_id=entry.rollout_id,
            tasks=_int(entry.details.get("tasks")),
            task_digests=_task_digests(entry),
            seq=entry.seq,
        )
        found.append(_Journaled(entry.environment, entry.service, record))
    return found


def _approvers(entries: Iterable[Entry], verified: Entry) -> tuple[str, ...]:
    """Who approved the run: the approvers of the change request it started (its
    `request_started` record); else `approval` records of the same run; else approvals of the
    same target in the same environment recorded before it that belong to no request."""
    earlier = [e for e in entries if e.seq < verified.seq]
    started = [
        e
        for e in earlier
        if e.kind is EntryKind.REQUEST_STARTED
        and verified.rollout_id
        and e.rollout_id == verified.rollout_id
    ]
    if started:
        return tuple(str(actor) for actor in started[-1].details.get("approved_by", []))
    approvals = [
        e for e in earlier if e.kind is EntryKind.APPROVAL and "request_id" not in e.details
    ]
    same_run = [e for e in approvals if verified.rollout_id and e.rollout_id == verified.rollout_id]
    target = verified.target_digest or verified.digest_after
    chosen = same_run or [
        e
        for e in approvals
        if e.environment == verified.environment
        and (e.target_digest or e.digest_after) == target
        and e.service in (None, verified.service)
    ]
    return tuple(dict.fromkeys(e.actor for e in chosen))


def _task_digests(entry: Entry) -> tuple[tuple[str, int], ...]:
    """What verification observed. Records carrying `digests` ({digest: tasks}) give them;
    otherwise verification saw `tasks` tasks on `digest_after` (it fails on any other)."""
    digests = entry.details.get("digests")
    if isinstance(digests, dict):
        return tuple((str(d), n) for d, n in digests.items() if isinstance(n, int))
    tasks = _int(entry.details.get("tasks"))
    if tasks is None or entry.digest_after is None:
        return ()
    return ((entry.digest_after, tasks),)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _patching(entry: ClockEntry, deployments: Sequence[_Journaled]) -> Deployment | None:
    """The journaled change that took the service off its last vulnerable digest."""
    if entry.status is not Status.COMPLIANT:
        return None
    candidates = [
        d.record
        for d in deployments
        if d.record.digest_before in entry.digests and d.record.digest_after not in entry.digests
    ]
    return candidates[-1] if candidates else None
