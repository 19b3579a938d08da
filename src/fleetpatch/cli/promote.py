"""`fleetpatch promote | rollback`: thin wrappers over fleetpatch.rollout.promote / .rollback.

Same conventions as `fleetpatch rollout` (cli/rollout.py): the plan and a confirmation prompt
unless --yes, the live table in a terminal (plain lines elsewhere), `--json` streams events,
exit 0 verified / 1 failed or halted / 2 refused.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import typer

from fleetpatch.cli import context
from fleetpatch.cli.context import WallClock
from fleetpatch.cli.output import console, print_note
from fleetpatch.cli.plan_view import print_plan
from fleetpatch.cli.progress import LinePrinter, LiveRun
from fleetpatch.cli.rollout import (
    ENV_HELP,
    SIDECAR_HELP,
    _config,
    _confirm,
    _print_summary,
)
from fleetpatch.config import Config
from fleetpatch.core.images import short_digest
from fleetpatch.journal import JournalStore, open_journal
from fleetpatch.rollout.events import Event, EventSink, JsonLinesSink
from fleetpatch.rollout.executor import RolloutOptions, RolloutResult
from fleetpatch.rollout.plan import Mode, Plan
from fleetpatch.rollout.promote import promote
from fleetpatch.rollout.retag import Retag
from fleetpatch.rollout.rollback import rollback
from fleetpatch.rollout.runner import Runner
from fleetpatch.rollout.waits import PollPolicy, RealClock, StoppableClock

YES_HELP = "Don't ask for confirmation."
JSON_HELP = "Stream one JSON event per line."


def register(app: typer.Typer) -> None:
    app.command("promote")(promote_command)
    app.command("rollback")(rollback_command)


class ChecksPrinter:
    """For people: pre-flight warnings as notes, the rollout as `fleetpatch rollout` shows it
    (`rollout`: the live table or plain lines)."""

    def __init__(self, rollout: EventSink) -> None:
        self._rollout = rollout

    def emit(self, event: Event) -> None:
        if event.kind == "preflight":
            for check in event.data["checks"]:
                if check["status"] == "warn":
                    print_note(f"pre-flight warning: {check['message']}")
            return
        if event.kind == "rollback_path":
            # The re-tag was refused after confirmation: say at once that it pins instead.
            print_note(f"rollback by {event.data['why']}")
            return
        self._rollout.emit(event)


@contextmanager
def _sink(as_json: bool, environment: str) -> Iterator[EventSink]:
    """The same choice as `fleetpatch rollout`: JSON lines with --json, the live table in a
    terminal, plain lines elsewhere (logs, pipes, tests)."""
    if as_json:
        yield JsonLinesSink(sys.stdout, environment=environment)
    elif console.is_terminal:
        with LiveRun(console) as live:
            yield ChecksPrinter(live)
    else:
        yield ChecksPrinter(LinePrinter(console))


@contextmanager
def _running(
    ctx: typer.Context,
    config: Config,
    environment: str,
    *,
    yes: bool,
    as_json: bool,
    strict: bool,
    poll_interval: float,
) -> Iterator[Runner]:
    """Everything promote and rollback run inside: the journal, the event output, the runner,
    and AWS refusals turned into one line naming the environment."""
    with (
        open_journal(config.journal, clock=context.clock(ctx)) as journal,
        _sink(as_json, environment) as sink,
        context.aws_errors(environment),
        context.ctrl_c_between_passes() as ctrl_c,
    ):
        runner = _runner(
            config,
            journal,
            clock=context.clock(ctx),
            sink=sink,
            yes=yes,
            as_json=as_json,
            strict=strict,
            poll_interval=poll_interval,
            ctrl_c=ctrl_c,
        )
        yield runner


def _runner(
    config: Config,
    journal: JournalStore,
    *,
    clock: WallClock,
    sink: EventSink,
    yes: bool,
    as_json: bool,
    strict: bool,
    poll_interval: float = 5.0,
    ctrl_c: context.CtrlC | None = None,
) -> Runner:
    def confirm(the_plan: Plan) -> None:
        if not as_json:
            print_plan(the_plan)
        _confirm(the_plan, yes, as_json)
        if ctrl_c is not None:
            ctrl_c.arm()  # confirmed: from here Ctrl-C stops the run between passes

    return Runner(
        config,
        journal,
        now=clock,
        answers=context.answer_cache(config),
        sink=sink,
        strict=strict,
        confirm=confirm,
        clock=StoppableClock(ctrl_c.stop) if ctrl_c is not None else RealClock(),
        lock_ttl=timedelta(minutes=2),
        options=RolloutOptions(
            poll=PollPolicy(
                interval=poll_interval,
                max_interval=max(poll_interval, 4 * poll_interval),
                timeout=config.policy.deployment_timeout_minutes * 60.0,
            )
        ),
    )


def _finish(result: RolloutResult, as_json: bool, environment: str) -> None:
    if not as_json:
        _print_summary(result)
    if not result.ok:
        raise typer.Exit(1)


def promote_command(
    ctx: typer.Context,
    source: str = typer.Option(..., "--from", help="The environment that proved the digest."),
    destination: str = typer.Option(..., "--to", help="The environment to roll it out to."),
    sidecar: str | None = typer.Option(None, "--sidecar", "-s", help=SIDECAR_HELP),
    digest: str | None = typer.Option(
        None, "--digest", help="The digest (default: the one --from runs)."
    ),
    move_tag: str | None = typer.Option(
        None, "--move-tag", help="Move this env-scoped tag (e.g. prod) in --to to the digest."
    ),
    pin: bool = typer.Option(False, "--pin", help="Pin mode in --to."),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    strict: bool = typer.Option(False, "--strict", help="Refuse on pre-flight warnings."),
    poll_interval: float = typer.Option(
        5.0, "--poll-interval", min=0.01, hidden=True, help="First poll interval, seconds."
    ),
) -> None:
    """Roll out to --to the digest --from runs, verified and soaked; else refuse saying why."""
    config = _config(ctx)
    mode: Mode = "pin" if pin else "tag"
    with _running(
        ctx,
        config,
        destination,
        yes=yes,
        as_json=as_json,
        strict=strict,
        poll_interval=poll_interval,
    ) as runner:
        result = promote(
            runner,
            source,
            destination,
            sidecar_name=sidecar,
            digest=digest,
            move_tag=move_tag,
            mode=mode,
        )
    if result.retag is not None and not as_json:
        _print_retag(destination, result.retag)
    _finish(result.rollout, as_json, destination)


def _print_retag(environment: str, moved: Retag) -> None:
    """`dev: fluent-bit:latest -> sha256:93d3fbbd… (was sha256:1f2e3d4c…)`."""
    console.print(
        f"{environment}: {moved.repository}:{moved.tag} -> {short_digest(moved.digest_after)} "
        f"(was {short_digest(moved.digest_before)})",
        highlight=False,
    )


def rollback_command(
    ctx: typer.Context,
    env: str = typer.Option(..., "--env", "-e", help=ENV_HELP),
    to: str = typer.Option(
        "previous", "--to", help="'previous' (journal, else ECS revisions, else ECR) or a digest."
    ),
    sidecar: str | None = typer.Option(None, "--sidecar", "-s", help=SIDECAR_HELP),
    pin: bool = typer.Option(
        False, "--pin", help="Return each service to its revision before (moves no tag)."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
    strict: bool = typer.Option(False, "--strict", help="Refuse on pre-flight warnings."),
    poll_interval: float = typer.Option(
        5.0, "--poll-interval", min=0.01, hidden=True, help="First poll interval, seconds."
    ),
) -> None:
    """Return the environment to the previous digest: re-tag where fleetpatch may write, else
    pin it; then roll out and verify."""
    config = _config(ctx)
    mode: Mode = "pin" if pin else "tag"
    with _running(
        ctx, config, env, yes=yes, as_json=as_json, strict=strict, poll_interval=poll_interval
    ) as runner:
        result = rollback(runner, env, sidecar_name=sidecar, to=to, mode=mode)
    if as_json:
        summary = {
            "event": "rollback",
            "environment": env,
            "digest": result.digest,
            "digest_before": result.digest_before,
            "found_in": result.found_in,
            **(result.path.to_json() if result.path else {}),
            "ok": result.rollout.ok,
        }
        sys.stdout.write(json.dumps(summary) + "\n")  # one line, like the events before it
    else:
        if result.retag is not None:
            _print_retag(env, result.retag)
        how = f" by {result.path.why}" if result.path else ""
        console.print(
            f"{env}: rolled back to {short_digest(result.digest)} "
            f"(previous digest from {result.found_in}){how}",
            highlight=False,
            soft_wrap=True,
        )
    _finish(result.rollout, as_json, env)
