"""What `/fleetpatch status` and `/fleetpatch report` show: the CLI's own data, for Slack.

reply = status_reply(config, now)                        # ephemeral Block Kit
filename, content, title = report_file(config, "prod", now)   # the month's report, md
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fleetpatch.compliance.status import status_deadlines
from fleetpatch.config import Config
from fleetpatch.core.summary import StatusRow, summarize
from fleetpatch.inventory.collect import collect
from fleetpatch.report import get_format
from fleetpatch.report.write import make_report
from fleetpatch.slack.blocks import Reply, minute, status_message


def status_line(row: StatusRow) -> str:
    """`prod fluent-bit: 3.0.4 on 9, 3.0.5 on 3 · 3 drifting · tag now 3.0.5`"""
    head = f"*{row.environment}* {row.sidecar}"
    if row.error is not None:
        return f"{head}: not read ({row.error})"
    running = ", ".join(f"{v.label} on {v.services}" for v in row.versions) or "nothing running"
    parts = [f"{head}: {running}"]
    if row.drifting:
        parts.append(f"{row.drifting} drifting")
    if row.not_running:
        parts.append(f"{row.not_running} without tasks")
    parts.append(f"tag now {row.tag_label or '-'}")
    return " · ".join(parts)


def status_reply(config: Config, now: Callable[[], datetime]) -> Reply:
    snapshot = collect(config, clock=now)
    clock = status_deadlines(config, snapshot)
    lines = [status_line(row) for row in summarize(snapshot)]
    return status_message(lines, [*clock.lines, *clock.warnings], minute(snapshot.taken_at))


def report_file(
    config: Config, environment: str | None, now: Callable[[], datetime]
) -> tuple[str, str, str]:
    """The month's evidence report (markdown: readable in Slack's file preview)."""
    report = make_report(config, environments=[environment] if environment else None, now=now())
    fmt = get_format("md")
    where = environment or "all environments"
    filename = f"fleetpatch-report-{report.period.label}-{environment or 'all'}.{fmt.extension}"
    return filename, fmt.render(report), f"{report.title} ({where})"
