"""`fleetpatch report`: the month's PCI DSS patch evidence as html, md, csv or json."""

from __future__ import annotations

from pathlib import Path

import typer

from fleetpatch.cli import context
from fleetpatch.cli.context import load_from_context
from fleetpatch.cli.output import exit_if_unread, print_note
from fleetpatch.config import Config
from fleetpatch.report import FORMATS, get_format
from fleetpatch.report.model import Period
from fleetpatch.report.write import make_report, save_report

ENV_HELP = "Only this environment (repeatable). Default: all."


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def _config(ctx: typer.Context) -> Config:
    return load_from_context(ctx)


def report_command(
    ctx: typer.Context,
    env: list[str] = typer.Option([], "--env", "-e", help=ENV_HELP),
    sidecar: str | None = typer.Option(None, "--sidecar", "-s", help="Which sidecar."),
    period: str | None = typer.Option(
        None, "--period", metavar="YYYY-MM", help="The month to report (default: this month)."
    ),
    fmt: str = typer.Option(
        "html", "--format", "-f", help=f"One of {', '.join(FORMATS)}.", show_default=True
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Where to write it."
    ),
) -> None:
    """Per environment x service: which sidecar digest ran when, each critical and high
    finding, when its fix became available and was deployed, who approved, and the
    verification evidence."""
    # Arguments first: a typo must fail before any AWS call.
    get_format(fmt)
    chosen = Period.parse(period) if period is not None else None
    config = _config(ctx)
    report = make_report(
        config, chosen, environments=env or None, sidecar=sidecar, now=context.now(ctx)
    )
    path = save_report(report, fmt, output)
    print_note(f"report written to {path}")
    # The file is still written: it says "not read" for those environments itself.
    exit_if_unread((e.name, e.error) for e in report.environments)
