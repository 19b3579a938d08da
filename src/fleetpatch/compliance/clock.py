"""The PCI DSS patch clock (v4.0 req. 6.3.3: critical patches within one month). Pure.

Inputs: which digests each environment x service ran when (`DigestTimeline`), the findings
per digest, the fix availability per repository (`fixes.fix_availability`), the policy's days
per severity, and today. Output: one `ClockEntry` per environment x service x vulnerability
the service ran, with its status. docs/compliance.md walks through an example.

    start    = the day the fix became available, but never before the vulnerability was
               published (a fix cannot be owed before anyone knows what it fixes)
    deadline = start + the policy's days for the severity (the deadline day itself is on time)

All dates are UTC calendar days.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from fleetpatch.compliance.fixes import FixAvailable, Fixes
from fleetpatch.compliance.model import Finding, ImageFindings, Severity, utc_date

# PCI DSS v4.0 req. 6.3.3 sets one month for critical patches; other severities are left to
# the organisation's risk ranking, so they are clocked only when the policy names them.
PCI_DSS_CRITICAL_DAYS = 30


@dataclass(frozen=True, slots=True)
class DigestInterval:
    """A digest ran in a service from `start` until `end` (None: it still runs).

    Intervals may overlap (old and new tasks run side by side during a deployment)."""

    digest: str
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class DigestTimeline:
    """Which digests of `repository` (the sidecar's) one service ran, and when."""

    environment: str
    service: str
    repository: str
    intervals: tuple[DigestInterval, ...]


@dataclass(frozen=True, slots=True)
class PatchPolicy:
    """Days allowed per severity. A severity not listed is not clocked."""

    deadline_days: Mapping[Severity, int] = field(
        default_factory=lambda: {Severity.CRITICAL: PCI_DSS_CRITICAL_DAYS}
    )

    @classmethod
    def for_severities(
        cls, severities: Iterable[Severity], deadline_for: Callable[[str], int]
    ) -> PatchPolicy:
        """From a lookup by label, such as `config.Policy.deadline_for`."""
        return cls({s: deadline_for(s.label) for s in severities})


class Status(enum.Enum):
    COMPLIANT = "compliant"  # no longer runs it: patched on `patched_on` (on time or late)
    DUE = "due"  # runs it; the deadline is today or later
    OVERDUE = "overdue"  # runs it; the deadline has passed
    NOT_FIXABLE = "not fixable"  # runs it; no image fixes it yet, so no clock runs


@dataclass(frozen=True, slots=True)
class ClockEntry:
    environment: str
    service: str
    repository: str
    finding: Finding  # the worst-rated package finding of this vulnerability
    digests: tuple[str, ...]  # the vulnerable digests the service ran, in order of first run
    status: Status
    fix: FixAvailable | None
    start: date | None
    deadline: date | None
    patched_on: date | None = None  # COMPLIANT: the day the last vulnerable task stopped
    days_taken: int | None = None  # COMPLIANT: patched_on - start
    days_left: int | None = None  # DUE, OVERDUE: deadline - today (negative when overdue)

    @property
    def vulnerability_id(self) -> str:
        return self.finding.vulnerability_id

    @property
    def severity(self) -> Severity:
        return self.finding.severity

    @property
    def on_time(self) -> bool | None:
        """COMPLIANT only: patched on or before the deadline."""
        if self.patched_on is None or self.deadline is None:
            return None
        return self.patched_on <= self.deadline


def patch_clock(
    timelines: Iterable[DigestTimeline],
    findings: Mapping[str, ImageFindings],
    fixes: Fixes,
    policy: PatchPolicy,
    today: date,
) -> list[ClockEntry]:
    """The clock of every vulnerability (of a policy severity) each service ran.

    Not listed: a service that never ran a vulnerable digest, and a service that stopped
    running it before its clock started (it never owed a patch).
    """
    entries: list[ClockEntry] = []
    for timeline in timelines:
        for exposure in _exposures(timeline, findings):
            days = policy.deadline_days.get(exposure.finding.severity)
            if days is None:
                continue
            fix = fixes.get(timeline.repository, {}).get(exposure.finding.vulnerability_id)
            entry = _entry(timeline, exposure, fix, days, today)
            if entry is not None:
                entries.append(entry)
    return entries


@dataclass
class _Exposure:
    """One vulnerability in one service: which digests carried it, and until when."""

    finding: Finding
    digests: list[str]
    ended: datetime | None  # None: a vulnerable digest still runs


def _exposures(timeline: DigestTimeline, findings: Mapping[str, ImageFindings]) -> list[_Exposure]:
    exposures: dict[str, _Exposure] = {}
    for interval in sorted(timeline.intervals, key=lambda i: i.start):
        scan = findings.get(interval.digest)
        if scan is None:
            continue
        for finding in scan.findings:
            exposure = exposures.get(finding.vulnerability_id)
            if exposure is None:
                exposures[finding.vulnerability_id] = _Exposure(
                    finding, [interval.digest], interval.end
                )
                continue
            exposure.finding = _worse(exposure.finding, finding)
            if interval.digest not in exposure.digests:
                exposure.digests.append(interval.digest)
            exposure.ended = _later(exposure.ended, interval.end)
    return list(exposures.values())


def _entry(
    timeline: DigestTimeline, exposure: _Exposure, fix: FixAvailable | None, days: int, today: date
) -> ClockEntry | None:
    start = clock_start(fix, exposure.finding.published)
    deadline = start + timedelta(days=days) if start else None
    entry = ClockEntry(
        environment=timeline.environment,
        service=timeline.service,
        repository=timeline.repository,
        finding=exposure.finding,
        digests=tuple(exposure.digests),
        status=Status.NOT_FIXABLE,
        fix=fix,
        start=start,
        deadline=deadline,
    )
    if start is None or deadline is None:
        # No fix yet: worth listing only while the service still runs the vulnerability.
        return entry if exposure.ended is None else None
    if exposure.ended is None:
        left = (deadline - today).days
        return replace(entry, status=Status.DUE if left >= 0 else Status.OVERDUE, days_left=left)
    patched_on = utc_date(exposure.ended)
    if patched_on < start:
        return None
    return replace(
        entry, status=Status.COMPLIANT, patched_on=patched_on, days_taken=(patched_on - start).days
    )


def clock_start(fix: FixAvailable | None, published: datetime | None) -> date | None:
    """When the clock starts: the fix's day, or the publication day if that is later."""
    if fix is None:
        return None
    if published is None:
        return fix.since
    return max(fix.since, utc_date(published))


def _worse(a: Finding, b: Finding) -> Finding:
    """The finding that represents a vulnerability: the worst rating, then a known publication
    date (so a basic-scan row without a date does not hide an enhanced one with a date)."""
    return max(a, b, key=lambda f: (f.severity, f.published is not None))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return None if a is None or b is None else max(a, b)


# --- what `fleetpatch status` prints --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenDeadline:
    """One vulnerability still running in some services of one environment."""

    environment: str
    finding: Finding
    services: tuple[str, ...]
    fix: FixAvailable | None
    start: date | None
    deadline: date | None
    days_left: int | None  # negative when overdue; None when no fix exists


def nearest_deadlines(entries: Iterable[ClockEntry], today: date) -> list[OpenDeadline]:
    """Open clocks grouped per environment x vulnerability x deadline, nearest deadline first
    (overdue ones lead); vulnerabilities without a fix come last, since no clock runs."""
    groups: dict[tuple[str, str, date | None], list[ClockEntry]] = {}
    for entry in entries:
        if entry.status is not Status.COMPLIANT:
            key = (entry.environment, entry.vulnerability_id, entry.deadline)
            groups.setdefault(key, []).append(entry)

    deadlines = []
    for (environment, _, deadline), members in groups.items():
        first = members[0]
        deadlines.append(
            OpenDeadline(
                environment=environment,
                finding=max((m.finding for m in members), key=lambda f: f.severity),
                services=tuple(sorted({m.service for m in members})),
                fix=first.fix,
                start=first.start,
                deadline=deadline,
                days_left=(deadline - today).days if deadline else None,
            )
        )
    return sorted(deadlines, key=_urgency)


def _urgency(d: OpenDeadline) -> tuple[bool, date, int, str, str]:
    return (
        d.deadline is None,
        d.deadline or date.max,
        -d.finding.severity,
        d.environment,
        d.finding.vulnerability_id,
    )


def format_deadline(d: OpenDeadline) -> str:
    """prod: 12 services run a digest with CVE-2024-4323 (critical); fix available since
    2026-11-20; due 2026-12-20 (23 days)"""
    count = len(d.services)
    who = f"{count} service runs" if count == 1 else f"{count} services run"
    head = (
        f"{d.environment}: {who} a digest with {d.finding.vulnerability_id} "
        f"({d.finding.severity.label})"
    )
    if d.fix is None or d.deadline is None or d.days_left is None:
        return f"{head}; no fix available yet"
    since = f"fix available since {d.fix.since.isoformat()}"
    if d.fix.recorded:
        since += " (recorded)"
    if d.start is not None and d.start != d.fix.since:
        since += f", published {d.start.isoformat()}"
    if d.days_left >= 0:
        when = "today" if d.days_left == 0 else _days(d.days_left)
        return f"{head}; {since}; due {d.deadline.isoformat()} ({when})"
    return f"{head}; {since}; was due {d.deadline.isoformat()} (overdue by {_days(-d.days_left)})"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def format_deadlines(entries: Sequence[ClockEntry], today: date) -> list[str]:
    """The lines of `fleetpatch status`, nearest deadline first."""
    return [format_deadline(d) for d in nearest_deadlines(entries, today)]
