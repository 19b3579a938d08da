"""The report as ONE self-contained HTML file: inline CSS, an inline SVG timeline chart per
environment, no script, no font or image from anywhere (an auditor may open it offline, years
later), and print styles so it prints as a readable A4 landscape document.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

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

name = "html"
extension = "html"

CSS = """
:root { --bad: #b3261e; --ok: #1e7b4a; --due: #9a6700; --ink: #1f2328; --muted: #59636e; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: var(--ink); margin: 24px auto; max-width: 1200px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border: 1px solid #d0d7de; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.date, td.status { white-space: nowrap; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.compliant { color: var(--ok); font-weight: 600; }
.due { color: var(--due); font-weight: 600; }
.overdue, .late { color: var(--bad); font-weight: 700; }
.notfixable { color: var(--muted); font-weight: 600; }
figure { margin: 8px 0 12px; }
figcaption { color: var(--muted); font-size: 12px; }
svg.timeline { width: 100%; height: auto; display: block; }
.notes { color: var(--muted); }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-before: page; }
  section.env:first-of-type h2 { break-before: auto; }
  table, figure { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
}
"""

# Chart geometry (SVG user units; the SVG scales to the page width).
LABEL_WIDTH = 210
PLOT_WIDTH = 760
ROW_HEIGHT = 22
TOP = 34
BOTTOM = 40
VULNERABLE = "#d9534f"
Scale = Callable[[datetime], float]  # a moment -> its x coordinate
CLEAN = "#2e8b57"


def render(report: Report) -> str:
    body = [
        f"<h1>{_e(report.title)}</h1>",
        _meta(report),
        _summary(report),
        *[_environment(report, env) for env in report.environments],
    ]
    if report.notes:
        items = "".join(f"<li>{_e(note)}</li>" for note in report.notes)
        body.append(f'<h2>Notes</h2><ul class="notes">{items}</ul>')
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}</title><style>{CSS}</style></head>\n"
        f"<body>\n{chr(10).join(body)}\n</body></html>\n"
    )


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _meta(report: Report) -> str:
    policy = ", ".join(f"{severity}: {days} days" for severity, days in report.policy)
    rows = [
        ("Sidecar", f"{report.sidecar} (ECR repository {report.repository})"),
        ("Period", f"{report.period.label}; clock as of {day(report.as_of)}"),
        ("Generated", moment(report.generated_at)),
        ("Policy", f"PCI DSS v4.0 req. 6.3.3, patch within: {policy}"),
    ]
    rows += [
        (f"Fix for {vulnerability}", f"available since {day(since)} ({by})")
        for vulnerability, since, by in report.fixes
    ]
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f'<dl class="meta">{items}</dl>'


def _summary(report: Report) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "environment",
            "services",
            "overdue",
            "due",
            "not fixable",
            "compliant",
            "clean",
            "not patched by fleetpatch",
        )
    )
    rows = []
    for env in report.environments:
        if env.error:
            rows.append(
                f'<tr><td>{_e(env.name)}</td><td colspan="7">not read: {_e(env.error)}</td></tr>'
            )
            continue
        counts = [env.count(s) for s in ("overdue", "due", "not fixable", "compliant", "clean")]
        counts.append(len(env.not_patched))
        cells = "".join(f'<td class="num">{n}</td>' for n in [len(env.services), *counts])
        rows.append(f"<tr><td>{_e(env.name)}</td>{cells}</tr>")
    return (
        '<h2>Summary</h2><table class="summary"><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _environment(report: Report, env: EnvironmentReport) -> str:
    title = f"<h2>{_e(env.name)} <small>({_e(env.account)}, {_e(env.region)})</small></h2>"
    if env.error:
        return f'<section class="env">{title}<p>Not read: {_e(env.error)}</p></section>'
    parts = [
        f'<section class="env" id="env-{_e(env.name)}">',
        title,
        f"<p>Target (the moving tag): <code>{_e(env.target or '-')}</code></p>",
        _chart(report, env),
        _not_patched_table(env),
        _findings_table(env),
        _deployments_table(env),
        "</section>",
    ]
    return "\n".join(parts)


# --- the chart -----------------------------------------------------------------------------------


def _chart(report: Report, env: EnvironmentReport) -> str:
    t0 = report.period.start
    t1 = max(report.window_end, t0 + timedelta(days=1))
    span_seconds = (t1 - t0).total_seconds()

    def x(moment_: datetime) -> float:
        clamped = min(max(moment_, t0), t1)
        return LABEL_WIDTH + PLOT_WIDTH * (clamped - t0).total_seconds() / span_seconds

    height = TOP + ROW_HEIGHT * max(len(env.services), 1) + BOTTOM
    width = LABEL_WIDTH + PLOT_WIDTH + 20
    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{_e(env.name)}: sidecar digests per service over time" '
        'font-family="system-ui, Helvetica, Arial, sans-serif" font-size="11">'
    ]
    out += _axis(t0, t1, x, height)
    for row, service in enumerate(env.services):
        out += _row(service, row, x, t1)
    out += _markers(report, env, x, t0, t1)
    out += _legend(height)
    out.append("</svg>")
    caption = (
        f"Sidecar digest per service, {day(t0.date())} to {day((t1 - timedelta(seconds=1)).date())}"
        ": red = runs a critical/high vulnerability, green = does not; "
        "dashed blue = fix available, red line = deadline."
    )
    return f"<figure>{''.join(out)}<figcaption>{_e(caption)}</figcaption></figure>"


def _axis(t0: datetime, t1: datetime, x: Scale, height: int) -> list[str]:
    out = []
    days_total = max(1, round((t1 - t0).total_seconds() / 86400))
    step = 1 if days_total <= 10 else 5
    for offset in range(0, days_total + 1, step):
        moment_ = t0 + timedelta(days=offset)
        if moment_ > t1:
            break
        px = x(moment_)
        out.append(
            f'<line x1="{px:.1f}" y1="{TOP - 6}" x2="{px:.1f}" y2="{height - BOTTOM}" '
            'stroke="#d0d7de" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{px:.1f}" y="{TOP - 10}" text-anchor="middle" fill="#59636e">'
            f"{moment_.strftime('%m-%d')}</text>"
        )
    return out


def _row(service: ServiceReport, row: int, x: Scale, t1: datetime) -> list[str]:
    y = TOP + row * ROW_HEIGHT
    out = [
        f'<text x="{LABEL_WIDTH - 8}" y="{y + ROW_HEIGHT / 2 + 4:.1f}" text-anchor="end" '
        f'fill="#1f2328">{_e(service.service.split("/")[-1])}</text>'
    ]
    for span in service.spans:
        left = x(span.start)
        right = x(span.end or t1)
        if right - left < 1:
            right = left + 1
        colour = VULNERABLE if span.vulnerable else CLEAN
        until = moment(span.end) if span.end else "now"
        out.append(
            f'<rect class="span" x="{left:.1f}" y="{y + 3}" width="{right - left:.1f}" '
            f'height="{ROW_HEIGHT - 6}" rx="3" fill="{colour}" fill-opacity="0.85">'
            f"<title>{_e(span.label)}: {_e(moment(span.start))} to {_e(until)}</title></rect>"
        )
        if right - left > 7 * len(span.label):
            out.append(
                f'<text x="{left + 5:.1f}" y="{y + ROW_HEIGHT / 2 + 4:.1f}" fill="#fff">'
                f"{_e(span.label)}</text>"
            )
    return out


def _markers(
    report: Report, env: EnvironmentReport, x: Scale, t0: datetime, t1: datetime
) -> list[str]:
    bottom = TOP + ROW_HEIGHT * max(len(env.services), 1)
    out = []
    for vulnerability, since, _ in report.fixes:
        moment_ = datetime(since.year, since.month, since.day, tzinfo=t0.tzinfo)
        if t0 <= moment_ <= t1:
            px = x(moment_)
            out.append(
                f'<line x1="{px:.1f}" y1="{TOP - 4}" x2="{px:.1f}" y2="{bottom}" '
                'stroke="#0b57d0" stroke-width="2" stroke-dasharray="5 3"/>'
                f'<text x="{px + 3:.1f}" y="{bottom + 14}" fill="#0b57d0">'
                f"fix {_e(vulnerability)}</text>"
            )
    deadlines = sorted({f.deadline for s in env.services for f in s.findings if f.deadline})
    for deadline in deadlines:
        moment_ = datetime(deadline.year, deadline.month, deadline.day, tzinfo=t0.tzinfo)
        if t0 <= moment_ <= t1:
            px = x(moment_)
            out.append(
                f'<line x1="{px:.1f}" y1="{TOP - 4}" x2="{px:.1f}" y2="{bottom}" '
                'stroke="#b3261e" stroke-width="2"/>'
            )
            label = f"deadline {deadline.isoformat()}"
        else:
            label = f"deadline {deadline.isoformat()} →" if moment_ > t1 else ""
            px = LABEL_WIDTH + PLOT_WIDTH - 120
        if label:
            out.append(
                f'<text x="{px + 3:.1f}" y="{bottom + 28}" fill="#b3261e">{_e(label)}</text>'
            )
    return out


def _legend(height: int) -> list[str]:
    y = height - 12
    return [
        f'<rect x="10" y="{y - 9}" width="12" height="10" fill="{VULNERABLE}"/>'
        f'<text x="26" y="{y}">vulnerable</text>',
        f'<rect x="100" y="{y - 9}" width="12" height="10" fill="{CLEAN}"/>'
        f'<text x="116" y="{y}">patched</text>',
    ]


# --- the tables -----------------------------------------------------------------------------------


def _findings_table(env: EnvironmentReport) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "service",
            "running",
            "vulnerability",
            "package",
            "fix available",
            "deadline",
            "status",
            "days taken",
            "approved by",
            "verification evidence",
        )
    )
    rows = []
    for service in env.services:
        running = ", ".join(service.running) or "-"
        if not service.findings:
            rows.append(
                f'<tr class="finding"><td>{_e(service.service)}</td><td><code>{_e(running)}</code>'
                '</td><td colspan="8">no critical or high finding</td></tr>'
            )
        for f in service.findings:
            css = "late" if f.on_time is False else f.status.replace(" ", "")
            rows.append(
                '<tr class="finding">'
                f"<td>{_e(service.service)}</td><td><code>{_e(running)}</code></td>"
                f"<td><strong>{_e(f.vulnerability_id)}</strong> ({_e(f.severity)})</td>"
                f"<td>{_e(f.package)} {_e(f.installed_version)} → {_e(f.fixed_version or '?')}</td>"
                f'<td class="date">{_e(day(f.fix_available))}<br>'
                f"<small>{_e(f.fix_label or '')}</small></td>"
                f'<td class="date">{_e(day(f.deadline))}</td>'
                f'<td class="{css}">{_e(status_text(f))}</td>'
                f'<td class="num">{"" if f.days_taken is None else f.days_taken}</td>'
                f"<td>{_e(approval_text(f.deployment))}</td>"
                f"<td><small>{_e(evidence_text(f.deployment))}</small></td>"
                "</tr>"
            )
    return "<h3>Findings (critical and high)</h3>" + _table("findings", head, rows)


def _not_patched_table(env: EnvironmentReport) -> str:
    if not env.not_patched:
        return ""
    head = "".join(
        f"<th>{h}</th>" for h in ("service", "running", "status", "why, and what to do", "seen")
    )
    rows = []
    for item in env.not_patched:
        running = ", ".join(item.running) or "-"
        css = "overdue" if item.status in ("overdue", "due", "not fixable", "unknown") else ""
        rows.append(
            '<tr class="not-patched">'
            f"<td>{_e(item.service)}</td><td><code>{_e(running)}</code></td>"
            f'<td class="{css}">{_e(not_patched_status(item))}</td>'
            f"<td>{_e(item.reason)}</td><td><small>{_e(skipped_text(item))}</small></td>"
            "</tr>"
        )
    title = f"<h3>{_e(NOT_PATCHED_TITLE)} ({len(env.not_patched)})</h3>"
    return f"{title}<p>{_e(NOT_PATCHED_NOTE)}</p>" + _table("not-patched", head, rows)


def _deployments_table(env: EnvironmentReport) -> str:
    records = [(s, d) for s in env.services for d in s.deployments]
    if not records:
        return "<h3>Deployments</h3><p>No verified deployment journaled in this period.</p>"
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "verified at",
            "service",
            "from",
            "to",
            "run by",
            "approved by",
            "tasks observed",
            "journal",
        )
    )
    rows = []
    for service, d in sorted(records, key=lambda r: r[1].at):
        observed = (
            "<br>".join(f"{n} tasks: <code>{_e(digest)}</code>" for digest, n in d.task_digests)
            or "-"
        )
        rows.append(
            '<tr class="deployment">'
            f"<td>{_e(moment(d.at))}</td><td>{_e(service.service)}</td>"
            f"<td>{_e(d.label_before)}</td><td>{_e(d.label_after)}</td>"
            f"<td>{_e(d.actor)}</td><td>{_e(approval_text(d))}</td>"
            f"<td>{observed}</td><td>#{d.seq}<br><small>{_e(d.deployment_id or '')}</small></td>"
            "</tr>"
        )
    return "<h3>Deployments (journal, verified)</h3>" + _table("deployments", head, rows)


def _table(css: str, head: str, rows: list[str]) -> str:
    body = "".join(rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
