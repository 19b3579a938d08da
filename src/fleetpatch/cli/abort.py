"""`fleetpatch abort --env E`: stop the environment's rollout and roll back what it deploys."""

from __future__ import annotations

import typer

from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli import context
from fleetpatch.cli.output import console, print_json, print_note
from fleetpatch.journal import current_user, open_journal


def register(app: typer.Typer) -> None:
    app.command("abort")(abort_command)


def abort_command(
    ctx: typer.Context,
    env: str = typer.Option(..., "--env", "-e", help="The environment whose rollout to stop."),
    as_json: bool = typer.Option(False, "--json", help="What was stopped, as JSON."),
) -> None:
    """Stop the environment's rollout: take its lock (the running rollout starts nothing
    more), roll back its in-flight deployments with StopServiceDeployment (ROLLBACK), journal
    it, release the lock."""
    from fleetpatch.rollout.abort import abort

    config = context.load_from_context(ctx)
    environment = config.environment(env)
    sessions = AwsSessions(config)
    # The right account before anything changes (one line, exit 2, nothing changed).
    sessions.confirm_account(environment.name)
    ecs = sessions.get(environment.name).ecs()
    with (
        context.aws_errors(environment.name),
        open_journal(config.journal, clock=context.clock(ctx)) as journal,
    ):
        result = abort(journal, ecs, environment.name, actor=current_user())
    if as_json:
        print_json(
            {
                "environment": result.environment,
                "rollout_id": result.rollout_id,
                "stopped": [s.__dict__ for s in result.stopped],
            }
        )
    elif result.rollout_id is None:
        print_note(f"{environment.name}: no rollout in the journal: nothing to abort")
    elif not result.stopped:
        print_note(
            f"{environment.name}: rollout {result.rollout_id} has no deployment in flight; "
            "it is stopped"
        )
    for stopped in result.stopped if not as_json else []:
        mark = "rolled back" if stopped.ok else "NOT stopped"
        console.print(
            f"{stopped.service}: {mark} (deployment {stopped.deployment_id}): {stopped.message}",
            markup=False,
            highlight=False,
        )
    if not result.ok:
        raise typer.Exit(1)
