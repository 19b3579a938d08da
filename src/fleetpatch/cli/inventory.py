"""`fleetpatch inventory | status | trace | hold`: what runs where, and keeping it pullable.

Thin: each command loads the config, calls fleetpatch.inventory, and renders the result as a
table that fits the terminal (cli/tables.py, readable from 80 columns), `--json`
(docs/json.md) or `--csv`. Every command exits 1 when an environment could not be read,
after reporting the others; that environment's one-line error goes to stderr.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import typer

from fleetpatch.cli import context
from fleetpatch.cli.collecting import collect_progress
from fleetpatch.cli.context import load_from_context
from fleetpatch.cli.inventory_csv import iso_utc, selected_runs, write_csv
from fleetpatch.cli.output import (
    console,
    exit_if_unread,
    print_json,
    print_note,
    print_warning,
)
from fleetpatch.cli.tables import Column, FitTable, wrap_line
from fleetpatch.config import Config
from fleetpatch.core.images import short_digest, version_label
from fleetpatch.core.lifecycle_risks import lifecycle_risks
from fleetpatch.core.snapshot import EnvironmentSnapshot, ServiceSnapshot, SidecarRun, Snapshot
from fleetpatch.core.summary import StatusRow, summarize
from fleetpatch.core.trace import trace
from fleetpatch.errors import UserError
from fleetpatch.inventory.collect import collect
from fleetpatch.inventory.hold import HoldResult, describe, hold
from fleetpatch.rollout.plan import not_patchable

ENV_OPTION_HELP = "Only these environments (repeatable)."


def register(app: typer.Typer) -> None:
    """Add the inventory commands to the root `fleetpatch` app."""
    app.command("inventory")(inventory_command)
    app.command("status")(status_command)
    app.command("trace")(trace_command)
    app.command("hold")(hold_command)


def _config(ctx: typer.Context) -> Config:
    return load_from_context(ctx)


def _collect(ctx: typer.Context, config: Config, environments: list[str]) -> Snapshot:
    """The fleet, with a transient progress line on stderr when it is a terminal."""
    with collect_progress() as progress:
        return collect(
            config,
            environments or None,
            progress=progress,
            clock=context.clock(ctx),
            answers=context.answer_cache(config),
        )


def _report_failures(snapshot: Snapshot, extra: Iterable[tuple[str, str]] = ()) -> None:
    """Each failed environment's one line on stderr, then exit 1 if there was any."""
    exit_if_unread([*((env.name, env.error) for env in snapshot.failed), *extra])


# --- inventory ----------------------------------------------------------------------------------


def inventory_command(
    ctx: typer.Context,
    env: list[str] = typer.Option([], "--env", "-e", help=ENV_OPTION_HELP),
    sidecar: str | None = typer.Option(None, "--sidecar", "-s", help="Only this sidecar."),
    all_services: bool = typer.Option(
        False, "--all", help="Also list services that run no configured sidecar."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON (the contract in docs/json.md)."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV, one row per running digest."),
) -> None:
    """Every service x sidecar: the image it references, the digests its tasks run, drift."""
    if as_json and as_csv:
        raise UserError("--json and --csv exclude each other: pick one")
    config = _config(ctx)
    if sidecar is not None:
        config.sidecar(sidecar)  # an unknown name is a UserError naming the known ones
    snapshot = _collect(ctx, config, env)
    if as_json:
        print_json(snapshot.to_json(sidecar=sidecar, all_services=all_services))
    elif as_csv:
        write_csv(snapshot, sidecar, all_services)
    else:
        _print_inventory(snapshot, sidecar, all_services, several=len(config.sidecars) > 1)
    _report_failures(snapshot)


# Narrow terminals drop the task definition first, then the container, the reference and
# what the tag points to now; service, running versions and drift always show.
INVENTORY_COLUMNS = (
    Column("service", name=True),
    Column("task def", drop=1),
    Column("sidecar", drop=2),
    Column("ref", drop=3),
    Column("running"),
    Column("tag now", drop=4),
    Column("drift"),
)


def _print_inventory(
    snapshot: Snapshot, sidecar: str | None, all_services: bool, several: bool
) -> None:
    """One table per environment; notes (missing digests, unresolvable images) below it."""
    readable = [env for env in snapshot.environments if env.error is None]
    for number, env in enumerate(readable):
        if number:
            console.print()  # a blank line between environments
        clusters = {service.cluster for service in env.services}
        table = FitTable(f"{env.name} ({env.account} {env.region})", INVENTORY_COLUMNS)
        notes: list[str] = []
        for service in env.services:
            runs = selected_runs(service, sidecar)
            where = f"{service.cluster}/{service.service}" if len(clusters) > 1 else service.service
            task_def = _task_def(service)
            if not runs and all_services:
                table.add_row(where, task_def, "-", "", "", "", "")
            for run in runs:
                table.add_row(
                    where,
                    task_def,
                    f"{run.name}:{run.container}" if several else run.container,
                    _reference(run),
                    _running(run, service),
                    _tag_now(run, env),
                    "[bold yellow]yes[/]" if run.drift else "",
                )
                notes.extend(f"{where}: {note}" for note in run.notes)
                if run.reason:
                    notes.append(f"{where}: {run.container} not resolvable: {run.reason}")
            if runs or all_services:
                notes.extend(f"{where}: {note}" for note in service.notes)
        console.print(table.render(console))
        for note in notes:
            print_note(f"{env.name} {note}")
    print_note(f"{snapshot.api_calls} AWS calls")


def _task_def(service: ServiceSnapshot) -> str:
    family, _, revision = service.task_definition.rpartition(":")
    return f":{revision}" if family == service.service else service.task_definition


def _reference(run: SidecarRun) -> str:
    if run.reference == "digest":
        return "@" + short_digest(run.image.rpartition("@")[2])
    return ":" + run.image.rpartition(":")[2]


def _running(run: SidecarRun, service: ServiceSnapshot) -> str:
    if not run.running:
        return "no tasks"
    lines = [f"{c.label} ({c.tasks})" for c in run.running]
    if service.deployment and service.deployment != "COMPLETED":
        lines.append(service.deployment)
    if run.starting:
        lines.append(f"{run.starting} starting")
    return "\n".join(lines)


def _tag_now(run: SidecarRun, env: EnvironmentSnapshot) -> str:
    if not run.resolvable:
        return "unresolvable"
    if run.tag_digest is None:
        return "missing"
    repository = env.repository(run.repository, run.origin)
    image = repository.image(run.tag_digest) if repository else None
    return image.label if image else short_digest(run.tag_digest)


# --- status ---------------------------------------------------------------------------------------


def status_command(
    ctx: typer.Context,
    env: list[str] = typer.Option([], "--env", "-e", help=ENV_OPTION_HELP),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Per environment and sidecar: versions running, drift, the oldest version, and every
    running digest a lifecycle policy would expire."""
    config = _config(ctx)
    snapshot = _collect(ctx, config, env)
    rows = summarize(snapshot)
    risks = lifecycle_risks(snapshot)
    # --- issue 5: the patch clock, nearest deadline first (fleetpatch.compliance.status) ---
    from fleetpatch.compliance.status import deadline_json, status_deadlines

    clock = status_deadlines(config, snapshot)
    # --- end issue 5 ---
    unpatchable = not_patchable(snapshot)
    if as_json:
        print_json(
            {
                "taken_at": iso_utc(snapshot.taken_at),
                "api_calls": snapshot.api_calls,
                "deadlines": [deadline_json(d) for d in clock.deadlines],  # issue 5
                "status": [_status_json(row, snapshot.taken_at) for row in rows],
                "lifecycle_risks": [risk.to_json() for risk in risks],
                "not_patchable": unpatchable,
            }
        )
    else:
        for line in clock.lines:  # issue 5: nearest deadline first, before the table
            style = "bold red" if "overdue" in line else "bold"
            # Whole when it fits; else wrapped at its clauses, indented (cli/tables.py).
            for part in wrap_line(line, console.width):
                console.print(part, style=style, soft_wrap=True, markup=False, highlight=False)
        _print_status(rows, snapshot)
        for risk in risks:
            print_warning(risk.message)
        for item in unpatchable:
            print_note(f"{item['environment']}: {item['service']} not patched: {item['reason']}")
    for warning in clock.warnings:  # issue 5
        print_warning(warning)
    _report_failures(snapshot)


def _print_status(rows: Sequence[StatusRow], snapshot: Snapshot) -> None:
    # One sidecar: its column is the first to go when narrow; several: it tells rows apart.
    one_sidecar = len({row.sidecar for row in rows}) <= 1
    columns = (
        Column("env", name=True),
        Column("sidecar", drop=1 if one_sidecar else None, name=True),
        Column("services", drop=3, justify="right"),
        Column("running"),
        Column("drift", justify="right"),
        Column("oldest", drop=2),
        Column("tag now", drop=4),
    )
    table = FitTable(f"status at {iso_utc(snapshot.taken_at)}", columns)
    for row in rows:
        if row.error is not None:
            table.add_row(row.environment, "-", "-", "[red]not read[/]", "", "", "")
            continue
        running = "\n".join(f"{v.label}: {v.services} svc, {v.tasks} tasks" for v in row.versions)
        if row.not_running:
            running += f"\n{row.not_running} without tasks"
        if row.unresolvable:
            running += f"\n{row.unresolvable} unresolvable"
        table.add_row(
            row.environment,
            row.sidecar,
            str(row.services),
            running.strip() or "-",
            f"[bold yellow]{row.drifting}[/]" if row.drifting else "0",
            _oldest(row, snapshot.taken_at),
            row.tag_label or "-",
        )
    console.print(table.render(console))


def _oldest(row: StatusRow, now: datetime) -> str:
    oldest = row.oldest
    if oldest is None:
        return "-"
    if oldest.pushed_at is None:
        return oldest.label
    return f"{oldest.label} ({(now - oldest.pushed_at).days} days)"


def _status_json(row: StatusRow, now: datetime) -> dict[str, object]:
    oldest = row.oldest
    return {
        "environment": row.environment,
        "sidecar": row.sidecar,
        "error": row.error,
        "services": row.services,
        "drifting": row.drifting,
        "not_running": row.not_running,
        "unresolvable": row.unresolvable,
        "tag_now": row.tag_label,
        "versions": [
            {
                "label": v.label,
                "digest": v.digest,
                "services": v.services,
                "tasks": v.tasks,
                "pushed_at": iso_utc(v.pushed_at) or None,
            }
            for v in row.versions
        ],
        "oldest": None
        if oldest is None
        else {
            "label": oldest.label,
            "digest": oldest.digest,
            "pushed_at": iso_utc(oldest.pushed_at) or None,
            "age_days": (now - oldest.pushed_at).days if oldest.pushed_at else None,
        },
    }


# --- trace ----------------------------------------------------------------------------------------


def trace_command(
    ctx: typer.Context,
    query: str = typer.Argument(..., metavar="DIGEST|TAG|VERSION"),
    env: list[str] = typer.Option([], "--env", "-e", help=ENV_OPTION_HELP),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Every environment, service and task running an image, by digest (or prefix), tag or
    version."""
    snapshot = _collect(ctx, _config(ctx), env)
    hits = trace(snapshot, query)
    if as_json:
        print_json(
            {
                "query": query,
                "api_calls": snapshot.api_calls,
                "hits": [
                    {
                        "environment": h.environment,
                        "cluster": h.cluster,
                        "service": h.service,
                        "sidecar": h.sidecar,
                        "container": h.container,
                        "digest": h.digest,
                        "tags": list(h.tags),
                        "tasks": h.tasks,
                        "task_ids": list(h.task_ids),
                    }
                    for h in hits
                ],
            }
        )
    elif not hits:
        print_note(f"no running task runs {query}")
    else:
        columns = (
            Column("env", name=True),
            Column("service", name=True),
            Column("container", drop=1),
            Column("digest", drop=2),
            Column("version"),
            Column("tasks"),
        )
        table = FitTable(f"running {query}", columns)
        for h in hits:
            table.add_row(
                h.environment,
                h.service,
                h.container,
                short_digest(h.digest),
                version_label(h.tags, h.digest),
                # Task ids are 32 hex characters; 12 identify a task in a cluster in practice.
                " ".join(task_id[:12] for task_id in h.task_ids),
            )
        console.print(table.render(console))
    _report_failures(snapshot)


# --- hold -----------------------------------------------------------------------------------------


def hold_command(
    ctx: typer.Context,
    env: list[str] = typer.Option([], "--env", "-e", help=ENV_OPTION_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would change, change nothing."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of lines."),
) -> None:
    """Tag every digest services need with inuse-<env>-<digest> so lifecycle policies keep
    it, and release the tags of digests nothing runs any more."""
    config = _config(ctx)
    with collect_progress() as progress:  # shown while the fleet is read and held
        result = hold(
            config, env or None, dry_run=dry_run, progress=progress, clock=context.clock(ctx)
        )
    if as_json:
        print_json(
            {
                "dry_run": dry_run,
                "api_calls": result.api_calls,
                "actions": [a.to_json() for a in result.actions],
                "still_at_risk": [a.to_json() for a in result.at_risk],
            }
        )
    else:
        _print_hold(result, dry_run)
    _report_failures(result.snapshot, result.errors)


def _print_hold(result: HoldResult, dry_run: bool) -> None:
    if not result.actions:
        print_note("nothing to hold or release")
    for action in result.actions:
        print_note(("would: " if dry_run else "") + describe(action))
    for action in result.at_risk:
        print_warning(f"still at risk: {describe(action)}")
