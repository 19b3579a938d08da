"""`fleetpatch history | journal verify`: what fleetpatch did, and the check of its record."""

from __future__ import annotations

import typer

from fleetpatch.cli import context
from fleetpatch.cli.context import load_from_context
from fleetpatch.cli.history import history_table
from fleetpatch.cli.output import console, print_json
from fleetpatch.journal import open_journal
from fleetpatch.journal.render import entry_to_json, verify_table, verify_to_json

journal_app = typer.Typer(
    help="Check the journal of every fleetpatch action.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("history")(history_command)
    app.add_typer(journal_app, name="journal")


def history_command(
    ctx: typer.Context,
    env: str | None = typer.Option(None, "--env", "-e", help="Only this environment."),
    limit: int = typer.Option(50, "--limit", "-n", min=0, help="Last N records (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Every field of every record, as JSON."),
) -> None:
    """What fleetpatch did, newest last: plans, deployments, verifications, failures, halts."""
    config = load_from_context(ctx)
    if env is not None:
        config.environment(env)  # a typo is an error, not an empty history
    with open_journal(config.journal, clock=context.clock(ctx)) as journal:
        entries = journal.entries(environment=env)
    if limit:
        entries = entries[-limit:]
    if as_json:
        print_json([entry_to_json(e) for e in entries])
        return
    table = history_table(entries, title=f"Journal ({env or 'all environments'})")
    console.print(table.render(console))


@journal_app.command("verify")
def journal_verify_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="The result as JSON."),
) -> None:
    """Recompute the hash chain: exit 1 if a record was changed, deleted or reordered."""
    config = load_from_context(ctx)
    with open_journal(config.journal, clock=context.clock(ctx)) as journal:
        result = journal.verify()
    if as_json:
        print_json(verify_to_json(result))
    else:
        console.print(verify_table(result))
    if not result.ok:
        raise typer.Exit(1)
