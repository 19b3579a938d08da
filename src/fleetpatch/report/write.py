"""`write_report`: read the fleet, build the month's report, write it. The one call the CLI
(`fleetpatch report`) and `make demo` make."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from fleetpatch.aws.session import AwsSessions
from fleetpatch.compliance.evidence import gather, policy_for
from fleetpatch.config import Config
from fleetpatch.errors import UserError
from fleetpatch.report import get_format
from fleetpatch.report.build import build_report
from fleetpatch.report.model import Period, Report


def make_report(
    config: Config,
    period: Period | str | None = None,
    *,
    environments: Iterable[str] | None = None,
    sidecar: str | None = None,
    sessions: AwsSessions | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Report:
    """The report model. `today` defaults to the real UTC date; pass the simulator's in
    tests. `period` defaults to the month of `today`."""
    generated_at = now or datetime.now(UTC).replace(microsecond=0)
    today = today or generated_at.date()
    chosen = _period(period, today)
    evidence = gather(
        config, environments, sidecar=sidecar, sessions=sessions, clock=lambda: generated_at
    )
    return build_report(evidence, chosen, policy_for(config), today, generated_at)


def write_report(
    config: Config,
    period: Period | str | None,
    fmt: str,
    output: Path | None = None,
    *,
    environments: Iterable[str] | None = None,
    sidecar: str | None = None,
    sessions: AwsSessions | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Path:
    """Write the report and return its path (default: ./fleetpatch-report-<period>.<ext>)."""
    get_format(fmt)  # a bad format fails before any AWS call
    if isinstance(period, str):
        period = Period.parse(period)
    report = make_report(
        config,
        period,
        environments=environments,
        sidecar=sidecar,
        sessions=sessions,
        today=today,
        now=now,
    )
    return save_report(report, fmt, output)


def save_report(report: Report, fmt: str, output: Path | None = None) -> Path:
    """Render a built report and write it (default: ./fleetpatch-report-<period>.<ext>).

    Separate from `write_report` so the CLI keeps the model: it says which environments
    could not be read after the file is written."""
    renderer = get_format(fmt)
    path = output or Path(f"fleetpatch-report-{report.period.label}.{renderer.extension}")
    try:
        path.write_text(renderer.render(report), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report: {exc.strerror}") from None
    return path


def _period(period: Period | str | None, today: date) -> Period:
    if period is None:
        return Period.containing(today)
    if isinstance(period, str):
        return Period.parse(period)
    return period
