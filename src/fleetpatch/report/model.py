"""The evidence report as plain frozen data: built once (`report.build`), rendered by each
format (`report.html`, `.markdown`, `.csv`, `.json`) without computing anything new.

Times are UTC. Days are UTC calendar days, as the patch clock counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fleetpatch.errors import UserError

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    """One calendar month, the unit auditors ask about ("show me November")."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        """`2026-11`; anything else (2026-13, november, 2026-1) is a one-line UserError."""
        match = _PERIOD_RE.match(text.strip())
        if match is None or not 1 <= int(match.group(2)) <= 12:
            raise UserError(f"period {text!r} is not a month: write it as YYYY-MM, e.g. 2026-11")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first_day(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight of the next month's first day."""
        following = self.next_first_day
        return datetime(following.year, following.month, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Span:
    """A digest a service ran, clipped to the report's window; `end` None: runs at `as_of`."""

    digest: str
    label: str
    start: datetime
    end: datetime | None
    vulnerable: bool  # carries a critical or high finding the report clocks


@dataclass(frozen=True, slots=True)
class Deployment:
    """A journaled, verified change of one service's sidecar digest."""

    at: datetime  # when fleetpatch verified it
    digest_before: str | None
    label_before: str
    digest_after: str
    label_after: str
    actor: str  # who ran the rollout
    approved_by: tuple[str, ...]  # journal `approval` records; empty: none recorded
    deployment_id: str | None
    rollout_id: str | None
    tasks: int | None  # tasks observed running the new digest
    task_digests: tuple[tuple[str, int], ...]  # digest -> tasks observed at verification
    seq: int  # the journal record, for an auditor to look up


@dataclass(frozen=True, slots=True)
class FindingLine:
    """One critical or high vulnerability in one service, and its clock."""

    vulnerability_id: str
    severity: str
    package: str
    installed_version: str
    fixed_version: str | None
    description: str
    vulnerable_digests: tuple[str, ...]  # labels
    fix_available: date | None
    fix_label: str | None  # the first image without it, or "recorded"
    clock_start: date | None
    deadline: date | None
    status: str  # compliant | due | overdue | not fixable
    patched_on: date | None
    days_taken: int | None
    days_left: int | None
    on_time: bool | None
    deployment: Deployment | None  # the verified change that removed it, when journaled


@dataclass(frozen=True, slots=True)
class ServiceReport:
    environment: str
    service: str  # cluster/service
    running: tuple[str, ...]  # labels of the digests running at the snapshot
    spans: tuple[Span, ...]
    findings: tuple[FindingLine, ...]
    deployments: tuple[Deployment, ...]

    @property
    def worst_status(self) -> str:
        order = ["overdue", "due", "not fixable", "compliant"]
        statuses = {f.status for f in self.findings}
        return next((s for s in order if s in statuses), "clean")


@dataclass(frozen=True, slots=True)
class NotPatched:
    """A service fleetpatch may not deploy now, or that its latest run skipped and no later
    run verified: outside fleetpatch's evidence, open until patched some other way."""

    service: str  # cluster/service
    reason: str  # why, and what to do (rollout/plan.py `ineligible`, or the run's skip)
    running: tuple[str, ...]  # labels of the digests it runs (empty: not known)
    status: str  # its worst finding's status (ServiceReport.worst_status), or "unknown"
    skipped_at: datetime | None = None  # when a run journaled the skip (None: seen in the fleet)
    journal_seq: int | None = None


@dataclass(frozen=True, slots=True)
class EnvironmentReport:
    name: str
    account: str
    region: str
    target: str | None  # label of where the moving tag points
    services: tuple[ServiceReport, ...]
    error: str | None = None
    # What fleetpatch could not patch: an auditor must see it, not a shorter list.
    not_patched: tuple[NotPatched, ...] = ()

    def count(self, status: str) -> int:
        return sum(1 for s in self.services if s.worst_status == status)


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    sidecar: str
    repository: str
    period: Period
    as_of: date  # the clock's day: today, or the period's last day for a past month
    generated_at: datetime
    policy: tuple[tuple[str, int], ...]  # severity label -> days to patch
    environments: tuple[EnvironmentReport, ...]
    fixes: tuple[tuple[str, date, str], ...]  # vulnerability id, available since, by (label)
    notes: tuple[str, ...] = ()

    def services(self) -> list[ServiceReport]:
        return [s for env in self.environments for s in env.services]

    @property
    def window_end(self) -> datetime:
        """The chart's right edge: the end of `as_of`, or of the period if earlier."""
        end_of_day = datetime(self.as_of.year, self.as_of.month, self.as_of.day, tzinfo=UTC)
        return min(self.period.end, end_of_day + timedelta(days=1))
