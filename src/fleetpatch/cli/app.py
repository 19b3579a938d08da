"""The `fleetpatch` command: global options, command registration, and error handling.

`main()` is the console-script entry. It runs the Typer app in click's non-standalone mode
so that it alone decides how a failure looks:

- UserError (a mistake the user can fix): `error: <one line>` on stderr, exit 2
- EnvironmentFailure (an environment could not be reached): one line, exit 1
- click usage errors: click's message, exit 2
- Ctrl-C: one line, exit 130
- anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import typer
from rich.table import Table

from fleetpatch import __version__
from fleetpatch.cli.context import CliState, WallClock, load_from_context, utc_now
from fleetpatch.cli.output import console, print_error, print_json
from fleetpatch.config import CONFIG_ENV_VAR, Config, Environment
from fleetpatch.errors import EnvironmentFailure, UserError

app = typer.Typer(
    name="fleetpatch",
    help="Patch a shared sidecar image across every ECS service in every environment, "
    "verify it, and keep the evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"fleetpatch {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        envvar=CONFIG_ENV_VAR,
        show_envvar=True,
        metavar="FILE",
        help="fleetpatch.toml to use (default: ./fleetpatch.toml).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Patch a shared sidecar image across every ECS service in every environment."""
    # A path from the environment variable is left to load_config, so that its messages
    # can say where the path came from ("from FLEETPATCH_CONFIG").
    source = ctx.get_parameter_source("config")
    from_env = source is not None and source.name == "ENVIRONMENT"
    # run(now=...) put the wall clock on the context; keep it.
    given = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
    ctx.obj = CliState(config_path=None if from_env else config, now=given.now)


# --- command groups ------------------------------------------------------------------------
# Each group lives in its own module under fleetpatch/cli/ and is registered here, once.

config_app = typer.Typer(help="Inspect and check fleetpatch.toml.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _register_groups() -> None:
    from fleetpatch.cli.sim import sim_app  # `fleetpatch sim serve ...`

    app.add_typer(sim_app, name="sim")

    from fleetpatch.cli.inventory import register as register_inventory  # inventory, status, ...

    register_inventory(app)

    from fleetpatch.cli.rollout import register as register_rollout  # plan, rollout

    register_rollout(app)

    from fleetpatch.cli.journal import register as register_journal  # history, journal verify

    register_journal(app)

    from fleetpatch.cli.promote import register as register_promote  # promote, rollback

    register_promote(app)

    from fleetpatch.cli.findings import register as register_findings  # findings

    register_findings(app)

    from fleetpatch.cli.report import register as register_report  # report

    register_report(app)

    from fleetpatch.cli.abort import register as register_abort  # abort

    register_abort(app)

    from fleetpatch.cli.approvals import register as register_approvals  # requests, approve

    register_approvals(app)

    from fleetpatch.cli.iam import register as register_iam  # iam-policy

    register_iam(app)

    from fleetpatch.cli.slack import register as register_slack  # slack serve

    register_slack(app)

    from fleetpatch.cli.slack_socket import register as register_socket  # slack socket

    register_socket()


@config_app.command("check")
def config_check(
    ctx: typer.Context,
    env: list[str] = typer.Option([], "--env", "-e", help="Only these environments (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the parsed config as JSON."),
) -> None:
    """Load the config, validate it, and summarise environments, sidecars and policy."""
    config = load_from_context(ctx)
    environments = config.select_environments(env or None)
    if as_json:
        data = config.model_dump(mode="json")
        data["environments"] = [e.model_dump(mode="json") for e in environments]
        print_json({"source": str(config.source), **data})
        return
    _print_summary(config, environments)


def _print_summary(config: Config, environments: Sequence[Environment]) -> None:
    console.print(f"[bold]{config.source}[/]: valid", highlight=False)

    sidecars = Table(title="sidecars", title_justify="left")
    for column in ("name", "image", "container"):
        sidecars.add_column(column)
    for sidecar in config.sidecars:
        sidecars.add_row(sidecar.name, f"{sidecar.repository}:{sidecar.tag}", sidecar.container)
    console.print(sidecars)

    table = Table(title="environments", title_justify="left")
    for column in ("name", "account", "region", "clusters", "services", "credentials"):
        table.add_column(column)
    for env in environments:
        services = ", ".join(env.services)
        if env.exclude_services:
            services += " minus " + ", ".join(env.exclude_services)
        table.add_row(
            env.name,
            env.account_id,
            env.region,
            ", ".join(env.clusters),
            services,
            _credentials_summary(env),
        )
    console.print(table)

    policy = config.policy
    console.print(
        f"policy: promotion {' -> '.join(config.promotion_order())}, canary {policy.canary}, "
        f"then {policy.max_parallel} at a time, failure budget {policy.failure_budget}, "
        f"deadline {policy.deadline_days} days",
        highlight=False,
    )


def _credentials_summary(env: Environment) -> str:
    creds = env.credentials
    parts = [f"profile {creds.profile}" if creds.profile else "default chain"]
    if creds.role_arn:
        parts.append(f"assume {creds.role_arn}")
    if env.endpoint_url:
        parts.append(f"endpoint {env.endpoint_url}")
    return ", ".join(parts)


_register_groups()


# --- entry point ---------------------------------------------------------------------------


def run(argv: Sequence[str] | None = None, *, now: WallClock = utc_now) -> int:
    """Run the CLI and return its exit code (main() without the sys.exit, for tests).
    `now` is the wall clock every command uses (tests pass the simulator's)."""
    try:
        # Standalone mode: Typer/click print usage errors and --help themselves and end
        # with SystemExit; our own exceptions come through untouched.
        app(
            args=list(argv) if argv is not None else None,
            prog_name="fleetpatch",
            obj=CliState(now=now),
        )
    except SystemExit as exc:
        code = _exit_code(exc)
        # Typer turns Ctrl-C into a silent exit 130; say what happened.
        return _interrupted() if code == 130 else code
    except UserError as exc:
        print_error(str(exc))
        return UserError.exit_code
    except EnvironmentFailure as exc:
        print_error(str(exc))
        return EnvironmentFailure.exit_code
    except KeyboardInterrupt:
        return _interrupted()
    return 0


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print_error(str(exc.code))
    return 1


def _interrupted() -> int:
    print_error("interrupted")
    return 130


def main() -> NoReturn:
    """Console-script entry: `fleetpatch ...`."""
    sys.exit(run())
