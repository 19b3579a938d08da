"""How `plan`, `rollout`, `promote` and `rollback` show a plan: the waves as a table fitted to
the terminal, then what it moves, what it skips, and how long AWS's limits and the services'
strategies make it at least."""

from __future__ import annotations

from fleetpatch.cli.output import console, print_note
from fleetpatch.cli.tables import Cell, Column, FitTable
from fleetpatch.core.images import short_digest
from fleetpatch.rollout.pacing import plan_pacing
from fleetpatch.rollout.plan import Plan

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
