"""The report as CSV: one row per environment x service x finding (a service without any
critical or high finding still gets one row), for a spreadsheet or an audit tool.

`not_patched` is set on every row of a service fleetpatch could not patch (the reason); such a
service whose tasks fleetpatch can't read still gets one row, status `unknown`."""

from __future__ import annotations

import csv
import io

from fleetpatch.core.times import iso_z
from fleetpatch.report.common import approval_text, day
from fleetpatch.report.model import FindingLine, Report

name = "csv"
extension = "csv"

COLUMNS = (
    "period",
    "environment",
    "service",
    "running",
    "vulnerability",
    "severity",
    "package",
    "installed_version",
    "fixed_version",
    "vulnerable_digests",
    "fix_available",
    "fixed_by",
    "deadline",
    "status",
    "patched_on",
    "days_taken",
    "days_left",
    "on_time",
    "deployed_at",
    "approved_by",
    "deployed_by",
    "verified_task_digests",
    "journal_seq",
    "not_patched",
)


def render(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for env in report.environments:
        reasons = {item.service: item.reason for item in env.not_patched}
        for service in env.services:
            head = [
                report.period.label,
                service.environment,
                service.service,
                " ".join(service.running),
            ]
            tail = [reasons.get(service.service, "")]
            if not service.findings:
                writer.writerow([*head, *_without_finding("clean"), *tail])
            for finding in service.findings:
                writer.writerow([*head, *_finding(finding), *tail])
        seen = {s.service for s in env.services}
        for item in env.not_patched:
            if item.service not in seen:
                head = [report.period.label, env.name, item.service, " ".join(item.running)]
                writer.writerow([*head, *_without_finding(item.status), item.reason])
    return out.getvalue()


def _without_finding(status: str) -> list[str]:
    """The finding columns of a row without a finding: empty but for the status."""
    before = COLUMNS.index("status") - COLUMNS.index("vulnerability")
    after = COLUMNS.index("not_patched") - COLUMNS.index("status") - 1
    return [*[""] * before, status, *[""] * after]


def _finding(f: FindingLine) -> list[str]:
    d = f.deployment
    return [
        f.vulnerability_id,
        f.severity,
        f.package,
        f.installed_version,
        f.fixed_version or "",
        " ".join(f.vulnerable_digests),
        day(f.fix_available) if f.fix_available else "",
        f.fix_label or "",
        day(f.deadline) if f.deadline else "",
        f.status,
        day(f.patched_on) if f.patched_on else "",
        "" if f.days_taken is None else str(f.days_taken),
        "" if f.days_left is None else str(f.days_left),
        "" if f.on_time is None else str(f.on_time).lower(),
        iso_z(d.at) if d else "",
        approval_text(d) if d else "",
        d.actor if d else "",
        " ".join(f"{digest}={n}" for digest, n in d.task_digests) if d else "",
        str(d.seq) if d else "",
    ]
