"""The report as Markdown: for a change ticket, a wiki page or a pull request."""

from __future__ import annotations

from fleetpatch.report.common import (
    NOT_PATCHED_NOTE,
    NOT_PATCHED_TITLE,
    approval_text,
    day,
    evidence_text,
    moment,
    not_patched_status,
    skipped_text,
    status_text,
)
from fleetpatch.report.model import EnvironmentReport, Report, ServiceReport

name = "md"
extension = "md"


def render(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    lines += _preamble(report)
    for env in report.environments:
        lines += _environment(env)
    if report.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in report.notes], ""]
    return "\n".join(lines).rstrip() + "\n"


def _preamble(report: Report) -> list[str]:
    policy = ", ".join(f"{severity} {days} days" for severity, days in report.policy)
    lines = [
        f"- Sidecar: **{report.sidecar}** (repository `{report.repository}`)",
        f"- Period: {report.period.label}; clock as of {day(report.as_of)}",
        f"- Generated: {moment(report.generated_at)}",
        f"- Policy (PCI DSS v4.0 req. 6.3.3): {policy}",
    ]
    for vulnerability, since, by in report.fixes:
        lines.append(f"- Fix for {vulnerability} available since {day(since)} ({by})")
    return [*lines, ""]


def _environment(env: EnvironmentReport) -> list[str]:
    lines = [f"## {env.name} ({env.account}, {env.region})", ""]
    if env.error:
        return [*lines, f"Not read: {env.error}", ""]
    lines.append(f"Target (moving tag): {env.target or '-'}")
    lines.append("")
    lines += [
        "| service | running | vulnerability | severity | fix available | deadline | status "
        "| approved by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for service in env.services:
        lines += _summary_rows(service)
    lines.append("")
    lines += _not_patched(env)
    for service in env.services:
        lines += _service(service)
    return lines


def _not_patched(env: EnvironmentReport) -> list[str]:
    if not env.not_patched:
        return []
    lines = [
        f"### {NOT_PATCHED_TITLE} ({len(env.not_patched)})",
        "",
        NOT_PATCHED_NOTE,
        "",
        "| service | running | status | why, and what to do | seen |",
        "|---|---|---|---|---|",
    ]
    for item in env.not_patched:
        running = ", ".join(item.running) or "-"
        reason = item.reason.replace("|", "\\|")
        lines.append(
            f"| {item.service} | {running} | {not_patched_status(item)} | {reason} "
            f"| {skipped_text(item)} |"
        )
    return [*lines, ""]


def _summary_rows(service: ServiceReport) -> list[str]:
    running = ", ".join(service.running) or "-"
    if not service.findings:
        return [f"| {service.service} | {running} | - | - | - | - | clean | - |"]
    return [
        f"| {service.service} | {running} | {f.vulnerability_id} | {f.severity} "
        f"| {day(f.fix_available)} | {day(f.deadline)} | {status_text(f)} "
        f"| {approval_text(f.deployment)} |"
        for f in service.findings
    ]


def _service(service: ServiceReport) -> list[str]:
    lines = [f"### {service.environment} / {service.service}", "", "Timeline:"]
    for span in service.spans:
        until = moment(span.end) if span.end else "now"
        mark = " (vulnerable)" if span.vulnerable else ""
        lines.append(f"- {span.label}{mark}: {moment(span.start)} to {until}")
    for f in service.findings:
        lines.append(
            f"- {f.vulnerability_id} ({f.severity}, {f.package} {f.installed_version} -> "
            f"{f.fixed_version or '?'}): {status_text(f)}; evidence: {evidence_text(f.deployment)}"
        )
    for d in service.deployments:
        lines.append(
            f"- Deployed {d.label_before} -> {d.label_after} at {moment(d.at)} by {d.actor}, "
            f"approved by {approval_text(d)}; {evidence_text(d)}"
        )
    return [*lines, ""]
