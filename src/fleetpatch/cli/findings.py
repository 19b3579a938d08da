"""`fleetpatch findings`: the vulnerabilities of every running sidecar digest (docs/report.md)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.box import SIMPLE
from rich.table import Table

from fleetpatch.cli import context
from fleetpatch.cli.context import load_from_context
from fleetpatch.cli.output import console, exit_if_unread, print_json, print_note
from fleetpatch.compliance.evidence import DEFAULT_SEVERITIES, SOURCES, SourceName, gather
from fleetpatch.compliance.model import parse_severities
from fleetpatch.config import Config
from fleetpatch.core.images import short_digest
from fleetpatch.errors import UserError
from fleetpatch.findings import DigestFindings, FindingsView, findings_view

ENV_HELP = "Only this environment (repeatable). Default: all."
SEVERITY_HELP = "Comma-separated severities to show, e.g. critical,high (default)."


def register(app: typer.Typer) -> None:
    app.command("findings")(findings_command)


def _config(ctx: typer.Context) -> Config:
    return load_from_context(ctx)


def parse_source(text: str) -> SourceName:
    for name in SOURCES:
        if text.strip().lower() == name:
            return name
    raise UserError(f"unknown findings source {text!r}: use one of {', '.join(SOURCES)}")


def findings_command(
    ctx: typer.Context,
    env: list[str] = typer.Option([], "--env", "-e", help=ENV_HELP),
    sidecar: str | None = typer.Option(None, "--sidecar", "-s", help="Which sidecar."),
    severity: str | None = typer.Option(None, "--severity", help=SEVERITY_HELP),
    trivy: Path | None = typer.Option(
        None, "--trivy", metavar="FILE", help="A `trivy image --format json` report to use."
    ),
    trivy_digest: str | None = typer.Option(
        None, "--trivy-digest", metavar="DIGEST", help="The digest the Trivy report is of."
    ),
    source: str = typer.Option("ecr", "--source", help="Findings source: ecr or inspector."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of tables."),
) -> None:
    """For every running sidecar digest: its findings, and whether the target digest fixes
    each. Findings of images no service runs are listed separately."""
    # Arguments first: a typo must fail before any AWS call.
    severities = parse_severities(severity) if severity else DEFAULT_SEVERITIES
    chosen_source = parse_source(source)
    if trivy_digest and trivy is None:
        raise UserError("--trivy-digest names the image of a --trivy report: add --trivy FILE")
    config = _config(ctx)
    evidence = gather(
        config,
        env or None,
        sidecar=sidecar,
        source=chosen_source,
        trivy=trivy,
        trivy_digest=trivy_digest,
        with_history=False,
        with_journal=False,
        clock=context.clock(ctx),
    )
    view = findings_view(evidence, severities)
    if as_json:
        print_json(view.to_json())
    else:
        _print(view)
    exit_if_unread((e.name, e.error) for e in evidence.snapshot.environments)


def _print(view: FindingsView) -> None:
    levels = ",".join(s.label for s in sorted(view.severities, reverse=True))
    for env, digest, label in view.targets:
        print_note(f"{env}: target ({view.sidecar} tag) is {label} ({short_digest(digest)})")
    for item in view.running:
        console.print(_table(item, levels))
    if view.not_running:
        console.print(f"[bold]images no service runs[/] ({len(view.not_running)})")
        for item in view.not_running:
            console.print(_table(item, levels))


def _table(item: DigestFindings, levels: str) -> Table:
    where = "; ".join(f"{env}: {len(services)} services" for env, services in item.where)
    title = f"{item.label} ({short_digest(item.digest)}) {where or 'not running'}"
    table = Table(title=title, title_justify="left", box=SIMPLE)
    for column in ("severity", "vulnerability", "package", "installed", "fixed in", "target fixes"):
        table.add_column(column, overflow="fold")
    if item.unavailable:
        table.add_row("-", f"no scan: {item.unavailable}", "", "", "", "")
    elif not item.rows:
        table.add_row("-", f"no {levels} findings ({item.source})", "", "", "", "")
    for row in item.rows:
        f = row.finding
        table.add_row(
            f.severity.label,
            f.vulnerability_id,
            f.package,
            f.installed_version,
            f.fixed_version or "-",
            ", ".join(f"{env}: {_yes_no(fixed)}" for env, fixed in row.fixed_by_target),
        )
    return table


def _yes_no(fixed: bool | None) -> str:
    return "unknown" if fixed is None else ("yes" if fixed else "no")
