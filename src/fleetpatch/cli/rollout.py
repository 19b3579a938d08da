"""`fleetpatch plan | rollout`.

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
from fleetpatch.cli.output import console, err_console, print_error, print_json, print_note
from fleetpatch.cli.plan_view import print_plan
from fleetpatch.cli.progress import LinePrinter, RichProgress
from fleetpatch.config import Config
from fleetpatch.errors import EnvironmentFailure, UserError
from fleetpatch.inventory.registry import registry_opener
from fleetpatch.journal import LockLost, default_lock_owner, open_journal
from fleetpatch.rollout.dryrun import planned_calls
from fleetpatch.rollout.events import Event, EventSink, JsonLinesSink
from fleetpatch.rollout.executor import (
    RolloutOptions,
    RolloutResult,
    new_rollout_id,
)
from fleetpatch.rollout.others import plan_only_sidecar
from fleetpatch.rollout.pacing import plan_pacing
from fleetpatch.rollout.plan import Mode, Plan
from fleetpatch.rollout.target import resolve_target
from fleetpatch.rollout.waits import PollPolicy, StoppableClock

if TYPE_CHECKING:
    from fleetpatch.journal import JournalStore, Lock
    from fleetpatch.rollout.runner import Runner


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    app.command("rollout")(rollout_command)


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
        runner.options = RolloutOptions(
            poll=PollPolicy(
                interval=poll_interval,
                max_interval=max(poll_interval, 4 * poll_interval),
                timeout=config.policy.deployment_timeout_minutes * 60.0,
            ),
            retry_failed=retry_failed,
        )
        # Ctrl-C from here stops the run where it next waits (a second one at once).
        with context.ctrl_c_between_passes() as ctrl_c:
            runner.clock = StoppableClock(ctrl_c.stop)
            ctrl_c.arm()
            result = _execute(runner, the_plan, journal, lock, as_json, rollout_id)
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
    journal: JournalStore,
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
    runner: Runner,
    the_plan: Plan,
    journal: JournalStore,
    lock: Lock,
    as_json: bool,
    rollout_id: str,
) -> RolloutResult:
    """The run, through the Runner as promote and rollback: every run notifies
    ([notifications]) and passes the same gate."""
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


def _say_what_is_still_deploying(journal: JournalStore, the_plan: Plan) -> None:
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
