"""Wording shared by the renderers, so every format says the same thing the same way."""

from __future__ import annotations

from datetime import date, datetime

from fleetpatch.report.model import Deployment, FindingLine, NotPatched


def day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def status_text(f: FindingLine) -> str:
    """compliant: patched 2026-11-27 after 7 days (on time) | due 2026-12-20 (23 days left) ..."""
    if f.status == "compliant" and f.patched_on is not None:
        timing = "on time" if f.on_time else "LATE"
        taken = days(f.days_taken) if f.days_taken is not None else "?"
        return f"patched {day(f.patched_on)} after {taken} ({timing})"
    if f.status == "due" and f.days_left is not None:
        left = "today" if f.days_left == 0 else f"{days(f.days_left)} left"
        return f"due {day(f.deadline)} ({left})"
    if f.status == "overdue" and f.days_left is not None:
        return f"OVERDUE since {day(f.deadline)} (by {days(-f.days_left)})"
    return "no fix available yet"


def approval_text(d: Deployment | None) -> str:
    """Who approved; without an approval record, who ran it (and that nobody approved)."""
    if d is None:
        return "-"
    if d.approved_by:
        return ", ".join(d.approved_by)
    return f"{d.actor} (ran it; no approval recorded)"


def evidence_text(d: Deployment | None) -> str:
    if d is None:
        return "-"
    observed = ", ".join(f"{n} on {digest[:19]}" for digest, n in d.task_digests) or "-"
    return f"journal #{d.seq}, verified {moment(d.at)}: tasks {observed}"


NOT_PATCHED_TITLE = "Not patched by fleetpatch"
NOT_PATCHED_NOTE = (
    "fleetpatch could not patch these services (the reason says what to do): they are outside "
    "its evidence, no fleetpatch record covers them, and they stay open until patched another "
    "way; their findings keep counting against the patch clock."
)


def not_patched_status(item: NotPatched) -> str:
    """What the auditor must conclude of a service fleetpatch did not patch."""
    return {
        "overdue": "OPEN: runs a vulnerable digest, OVERDUE",
        "due": "OPEN: runs a vulnerable digest, due",
        "not fixable": "OPEN: runs a vulnerable digest, no fix available yet",
        "compliant": "no vulnerable digest runs now, but not through fleetpatch (no evidence here)",
        "clean": "no critical or high finding in what it runs",
    }.get(item.status, "OPEN: what it runs is not known to fleetpatch")


def skipped_text(item: NotPatched) -> str:
    """Where the reason comes from: the fleet as read now, or a run's journal record."""
    if item.journal_seq is None or item.skipped_at is None:
        return "seen in the fleet"
    return f"skipped by a run at {moment(item.skipped_at)} (journal #{item.journal_seq})"
