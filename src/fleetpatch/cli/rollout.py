"""`fleetpatch plan | rollout | history | journal verify`.

Thin: each command loads the config, reads the fleet (fleetpatch.inventory), plans
(fleetpatch.rollout.plan), runs (fleetpatch.rollout.executor) and renders. Exit codes:
0 every planned service verified; 1 halted, a service failed, or an environment unreachable;
2 refused before changing anything (config, arguments, lock held, no confirmation).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TYPE_CHECKING

import typer
from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.aws.errors import explain
from fleetpatch.aws.session import AwsSessions
from fleetpatch.cli import context
from fleetpatch.cli.context import WallClock, load_from_context, utc_now
from fleetpatch.cli.history import history_table
from fleetpatch.cli.output import console, err_console, print_error, print_json, print_note
from fleetpatch.cli.progress import LinePrinter, RichProgress
from fleetpatch.cli.tables import Cell, Column, FitTable
from fleetpatch.config import Config
from fleetpatch.core.images import short_digest
from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.inventory.registry import registry_opener
from fleetpatch.journal import LockLost, default_lock_owner, open_journal
from fleetpatch.journal.render import entry_to_json, verify_table, verify_to_json
from fleetpatch.rollout.dryrun import planned_calls
from fleetpatch.rollout.events import Event, EventSink, JsonLinesSink
from fleetpatch.rollout.executor import (
    RolloutOptions,
    RolloutResult,
    new_rollout_id,
)
from fleetpatch.rollout.others import plan_only_sidecar
from fleetpatch.rollout.pacing import plan_pacing
from fleetpatch.rollout.plan import Mode, Plan, resolve_target
from fleetpatch.rollout.waits import PollPolicy

if TYPE_CHECKING:
    from fleetpatch.journal import Lock, SqliteJournal
    from fleetpatch.rollout.runner import Runner

journal_app = typer.Typer(
    help="Check the journal of every fleetpatch action.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    app.command("rollout")(rollout_command)
    app.command("history")(history_command)
    app.add_typer(journal_app, name="journal")


def _config(ctx: typer.Context) -> Config:
    return load_from_context(ctx)


# --- plan ---------------------------------------------------------------------------------------

ENV_HELP = "The environment to patch."
SIDECAR_HELP = "Which configured sidecar (needed when several are configured)."
DIGEST_HELP = "Target digest (full, or a unique prefix). Default: what the moving tag points to."
VERSION_HELP = "Target by tag: exact, or a version prefix like 3.0.4 (matches 3.0.4-a1b2c3d)."
PIN_HELP = "Pin mode: register a task definition with the sidecar image set to repo@digest."
ALLOW_OTHER_HELP = (
    "Moving-tag mode: deploy services even when their other containers' tags moved (ships "
    "those changes too)."
)


def plan_command(
    ctx: typer.Context,
    env: str = typer.Option(..., "--env", "-e", help=ENV_HELP),
    sidecar: str | None = typer.Option(None, "--sidecar", "-s", help=SIDECAR_HELP),
    digest: str | None = typer.Option(None, "--digest", help=DIGEST_HELP),
    version: str | None = typer.Option(None, "--version", help=VERSION_HELP),
    pin: bool = typer.Option(False, "--pin", help=PIN_HELP),
    allow_other_changes: bool = typer.Option(False, "--allow-other-changes", help=ALLOW_OTHER_HELP),
    as_json: bool = typer.Option(False, "--json", help="The plan as JSON."),
) -> None:
    """The services whose sidecar doesn't run the target, in waves (canary first)."""
    config = _config(ctx)
    mode: Mode = "pin" if pin else "tag"
    the_plan = build_plan(
        config, env, sidecar, digest, version, mode, context.clock(ctx), allow_other_changes
    )
    if as_json:
        print_json({**the_plan.to_json(), "pacing": plan_pacing(the_plan).to_json()})
        return
    print_plan(the_plan)


def build_plan(
    config: Config,
    env: str,
    sidecar_name: str | None,
    digest: str | None,
    version: str | None,
    mode: Mode,
    clock: WallClock = utc_now,
    allow_other_changes: bool = False,
) -> Plan:
    """Read the environment now (`clock`: the command's wall clock) and plan its rollout
    (in moving-tag mode, reading where the other containers' tags point now)."""
    from fleetpatch.inventory.collect import collect

    environment = config.environment(env)
    sidecar = config.sidecar(sidecar_name)
    snapshot = collect(
        config, [environment.name], clock=clock, answers=context.answer_cache(config)
    )
    env_snapshot = snapshot.environments[0]
    if env_snapshot.error is not None:
        raise EnvironmentFailure(env, env_snapshot.error)
    target = resolve_target(env_snapshot, sidecar, digest=digest, version=version)
    aws = AwsSessions(config).get(environment.name)
    return plan_only_sidecar(
        registry_opener(aws, config.registry_endpoints()),
        snapshot,
        environment.name,
        sidecar,
        target,
        config.policy,
        mode,
        allow_other_changes=allow_other_changes,
    )


# Narrow terminals show digests without "sha256:" and the task definition as ":revision".
PLAN_COLUMNS = (
    Column("wave"),
    Column("service", name=True),
    Column("running now"),
    Column("task definition", drop=1),
)


def _revision_only(task_definition: str, key: str) -> str:
    """`payment-api:7` -> `:7` for service card-platform/payment-api (the usual family)."""
    family, _, revision = task_definition.rpartition(":")
    return f":{revision}" if family == key.rpartition("/")[2] else task_definition


def print_plan(the_plan: Plan) -> None:
    target = the_plan.target
    console.print(
        f"[bold]{the_plan.environment}[/]: {the_plan.sidecar} -> [bold]{target.label}[/] "
        f"({target.digest}), chosen by {target.chosen_by}; mode {the_plan.mode}",
        highlight=False,
    )
    table = FitTable("plan", PLAN_COLUMNS)
    for wave in the_plan.waves:
        label = f"{wave.index}{' canary' if wave.canary else ''}"
        for step in wave.services:
            table.add_row(
                label,
                step.key,
                Cell(
                    short_digest(step.digest_before), short_digest(step.digest_before, prefix=False)
                ),
                Cell(step.task_definition, _revision_only(step.task_definition, step.key)),
            )
    if the_plan.waves:
        console.print(table.render(console))
    console.print(
        f"{len(the_plan.services)} to deploy in {len(the_plan.waves)} wave(s), "
        f"{len(the_plan.done)} already on the target, {len(the_plan.skipped)} skipped; "
        f"halt when a wave has more than {the_plan.failure_budget} failure(s)",
        highlight=False,
    )
    if the_plan.bake_minutes:
        longest = max(the_plan.waves, key=lambda w: w.bake_minutes)
        print_note(
            f"the services' deployment strategies bake: this rollout takes at least "
            f"{the_plan.bake_minutes:g} min (wave {longest.index}: {longest.bake_minutes:g} min)"
        )
    pacing_note = _pacing_note(the_plan)
    if pacing_note:
        print_note(pacing_note)
    for skipped in the_plan.skipped:
        print_note(f"skipped {skipped.key}: {skipped.reason}")
    for note in the_plan.notes:
        print_note(f"note: {note}")


def _pacing_note(the_plan: Plan) -> str | None:
    """AWS's rate limits, when they make this rollout's calls wait at least a few seconds."""
    pacing = plan_pacing(the_plan).total
    if pacing.binding is None or pacing.seconds < 1:
        return None
    limit = pacing.binding
    seconds = f"{pacing.seconds:.0f} s"
    duration = f"{pacing.seconds / 60:.1f} min ({seconds})" if pacing.seconds >= 60 else seconds
    return (
        f"AWS's rate limits: this rollout's API calls take at least {duration} "
        f"({limit.name}: {limit.burst} at once, then {limit.rate:g} a second)"
    )


# --- rollout ------------------------------------------------------------------------------------


def rollout_command(
    ctx: typer.Context,
    env: str = typer.Option(..., "--env", "-e", help=ENV_HELP),
    sidecar: str | None = typer.Option(None, "--sidecar", "-s", help=SIDECAR_HELP),
    digest: str | None = typer.Option(None, "--digest", help=DIGEST_HELP),
    version: str | None = typer.Option(None, "--version", help=VERSION_HELP),
    pin: bool = typer.Option(False, "--pin", help=PIN_HELP),
    allow_other_changes: bool = typer.Option(False, "--allow-other-changes", help=ALLOW_OTHER_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Don't ask for confirmation."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan and the AWS calls it would make; change nothing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Stream one JSON event per line."),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse instead of warn on pre-flight findings."
    ),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Deploy again services whose last deployment failed."
    ),
    poll_interval: float = typer.Option(
        5.0, "--poll-interval", min=0.01, hidden=True, help="First poll interval, seconds."
    ),
    lock_ttl: float = typer.Option(
        120.0, "--lock-ttl", min=1, hidden=True, help="Environment lock ttl, seconds."
    ),
) -> None:
    """Move every service of one environment to the target digest, wave by wave; verify it."""
    config = _config(ctx)
    mode: Mode = "pin" if pin else "tag"
    if dry_run:
        clock = context.clock(ctx)
        _dry_run(config, env, sidecar, digest, version, mode, as_json, clock, allow_other_changes)
        return
    environment = config.environment(env)
    clock = context.clock(ctx)
    # The right accounts before anything else: wrong credentials open no journal, take no lock.
    AwsSessions(config).confirm_accounts([environment.name, *environment.requires])
    journal = open_journal(config.journal, clock=clock)
    # Lock first: a refused run shouldn't read the fleet or ask anything.
    lock = journal.acquire_lock(environment.name, default_lock_owner(), timedelta(seconds=lock_ttl))
    try:
        the_plan = build_plan(
            config, env, sidecar, digest, version, mode, clock, allow_other_changes
        )
        _refuse_unreachable_target(the_plan)
        # --- issue 4 items 3 and 5: `requires` proven, then pre-flight (rollout/promote.py,
        # rollout/preflight.py). Both refuse (exit 2) before any change.
        runner = _prerequisites_and_preflight(config, journal, the_plan, strict, as_json, clock)
        if not as_json:
            print_plan(the_plan)
        _confirm(the_plan, yes, as_json)
        rollout_id = new_rollout_id()
        runner.authorize("rollout", the_plan, rollout_id)
        options = RolloutOptions(
            poll=PollPolicy(
                interval=poll_interval,
                max_interval=max(poll_interval, 4 * poll_interval),
                timeout=config.policy.deployment_timeout_minutes * 60.0,
            ),
            retry_failed=retry_failed,
        )
        result = _execute(config, the_plan, journal, lock, options, as_json, rollout_id)
    finally:
        journal.release_lock(lock)
        journal.close()
    if not as_json:
        _print_summary(result)
    if not result.ok:
        raise typer.Exit(1)


def _dry_run(
    config: Config,
    env: str,
    sidecar: str | None,
    digest: str | None,
    version: str | None,
    mode: Mode,
    as_json: bool,
    clock: WallClock,
    allow_other_changes: bool,
) -> None:
    the_plan = build_plan(config, env, sidecar, digest, version, mode, clock, allow_other_changes)
    calls = planned_calls(the_plan)
    if as_json:
        pacing = plan_pacing(the_plan).to_json()
        print_json({"plan": the_plan.to_json(), "pacing": pacing, "calls": calls})
        return
    print_plan(the_plan)
    console.print("[bold]dry run[/]: these calls would be made; nothing was changed.")
    for call in calls:
        console.print(call, markup=False, highlight=False, soft_wrap=True)


def _prerequisites_and_preflight(
    config: Config,
    journal: SqliteJournal,
    the_plan: Plan,
    strict: bool,
    as_json: bool,
    clock: WallClock,
) -> Runner:
    """The checks before anything moves; returns the runner that made them (it also holds
    the approval gate)."""
    from fleetpatch.rollout.promote import check_prerequisites
    from fleetpatch.rollout.runner import Runner

    runner = Runner(config, journal, strict=strict, now=clock, answers=context.answer_cache(config))
    sidecar = config.sidecar(the_plan.sidecar)
    check_prerequisites(runner, the_plan.environment, sidecar, the_plan.target.digest)
    if not the_plan.waves:
        return runner  # nothing will be deployed: nothing to pre-flight
    checks = runner.preflight(the_plan)
    for check in checks:
        if check.status == "warn" and not as_json:
            print_note(f"pre-flight warning: {check.message}")
    return runner


def _refuse_unreachable_target(the_plan: Plan) -> None:
    if the_plan.mode == "tag" and the_plan.target.tag is None and the_plan.waves:
        raise UserError(
            f"moving-tag mode deploys what the tag points to, and it doesn't point to "
            f"{the_plan.target.label}: use --pin, or move the tag first"
        )


def _confirm(the_plan: Plan, yes: bool, as_json: bool) -> None:
    if yes or not the_plan.waves:
        return
    if as_json or not sys.stdin.isatty():
        raise UserError("not a terminal: pass --yes to roll out without a confirmation prompt")
    question = (
        f"Roll out {the_plan.target.label} to {len(the_plan.services)} service(s) of "
        f"{the_plan.environment}?"
    )
    if not typer.confirm(question, default=False, err=True):
        raise UserError("not confirmed: nothing was changed")


def _execute(
    config: Config,
    the_plan: Plan,
    journal: SqliteJournal,
    lock: Lock,
    options: RolloutOptions,
    as_json: bool,
    rollout_id: str,
) -> RolloutResult:
    from fleetpatch.rollout.runner import Runner

    # Through the Runner, as promote and rollback: every run notifies ([notifications]).
    runner = Runner(config, journal, options=options)
    try:
        if as_json:
            runner.sink = _PacingAfterPlan(
                JsonLinesSink(sys.stdout, rollout_id=rollout_id, environment=the_plan.environment),
                Event("pacing", plan_pacing(the_plan).to_json()),
            )
            return runner.execute(the_plan, lock, rollout_id=rollout_id)
        if console.is_terminal:
            with RichProgress(console) as progress:
                runner.sink = progress
                return runner.execute(the_plan, lock, rollout_id=rollout_id)
        runner.sink = LinePrinter(console)
        return runner.execute(the_plan, lock, rollout_id=rollout_id)
    except LockLost as exc:
        raise EnvironmentFailure(the_plan.environment, f"{exc}: stopped") from exc
    except KeyboardInterrupt:
        _say_what_is_still_deploying(journal, the_plan)
        raise typer.Exit(130) from None
    except (ClientError, BotoCoreError) as exc:
        failure = explain(the_plan.environment, exc)
        if failure is None:
            raise
        raise failure from exc


class _PacingAfterPlan:
    """Passes events on, and right after the `plan` event (before any change) the `pacing`
    one: how long AWS's rate limits make the rollout's calls at least."""

    def __init__(self, sink: EventSink, pacing: Event) -> None:
        self._sink = sink
        self._pacing: Event | None = pacing

    def emit(self, event: Event) -> None:
        self._sink.emit(event)
        if event.kind == "plan" and self._pacing is not None:
            self._sink.emit(self._pacing)
            self._pacing = None


def _print_summary(result: RolloutResult) -> None:
    verified = result.with_status("verified")
    failed = result.with_status("failed")
    skipped = result.with_status("skipped")
    console.print(
        f"rollout {result.rollout_id}: {len(verified)} verified, {len(failed)} failed, "
        f"{len(skipped)} skipped",
        highlight=False,
    )
    for item in failed:
        print_error(f"{item.key}: {item.reason}")
        for line in item.details.get("stopped_reasons", []):
            err_console.print(f"    stopped: {line}", markup=False, highlight=False, soft_wrap=True)
        for line in item.details.get("events", [])[:3]:
            err_console.print(f"    event: {line}", markup=False, highlight=False, soft_wrap=True)
    if result.halted:
        print_error(f"halted: {result.halt_reason}")


# --- history and journal verify -----------------------------------------------------------------


def history_command(
    ctx: typer.Context,
    env: str | None = typer.Option(None, "--env", "-e", help="Only this environment."),
    limit: int = typer.Option(50, "--limit", "-n", min=0, help="Last N records (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Every field of every record, as JSON."),
) -> None:
    """What fleetpatch did, newest last: plans, deployments, verifications, failures, halts."""
    config = _config(ctx)
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
    config = _config(ctx)
    with open_journal(config.journal, clock=context.clock(ctx)) as journal:
        result = journal.verify()
    if as_json:
        print_json(verify_to_json(result))
    else:
        console.print(verify_table(result))
    if not result.ok:
        raise typer.Exit(1)


def _say_what_is_still_deploying(journal: SqliteJournal, the_plan: Plan) -> None:
    """Ctrl-C: nothing new starts; say what ECS is still deploying and how to go on."""
    from fleetpatch.journal import started_deployments

    env = the_plan.environment
    entries = journal.entries(environment=env)
    in_flight = started_deployments(entries, env, the_plan.target.digest)
    print_error("interrupted: no new deployment is started")
    for service, deployment_id in sorted(in_flight.items()):
        print_note(f"still deploying: {service} (deployment {deployment_id})")
    print_note(f"resume (waits for them, then goes on): fleetpatch rollout --env {env}")
    print_note(f"or stop and roll them back: fleetpatch abort --env {env}")
