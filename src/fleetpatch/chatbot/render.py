"""Plain text for a chat channel: what `fleetpatch status` and `fleetpatch plan` show, without
Rich (the Lambda's stdout is its log, not the reply) and without tables that wrap on a phone."""

from __future__ import annotations

from collections.abc import Sequence

from fleetpatch.core.images import short_digest
from fleetpatch.core.summary import StatusRow
from fleetpatch.rollout.plan import Plan


def status_text(rows: Sequence[StatusRow], deadlines: Sequence[str], taken_at: str) -> str:
    lines = [f"fleetpatch status at {taken_at}"]
    lines += list(deadlines)
    for row in rows:
        if row.error is not None:
            lines.append(f"{row.environment}: not read: {row.error}")
            continue
        versions = ", ".join(f"{v.label} on {v.services} svc" for v in row.versions) or "-"
        parts = [f"{row.environment} {row.sidecar}: {row.services} services", versions]
        parts.append(f"drift {row.drifting}")
        if row.not_running:
            parts.append(f"{row.not_running} without tasks")
        if row.unresolvable:
            parts.append(f"{row.unresolvable} unresolvable")
        parts.append(f"tag now {row.tag_label or '-'}")
        lines.append("; ".join(parts))
    return "\n".join(lines)


def plan_text(the_plan: Plan) -> str:
    target = the_plan.target
    lines = [
        f"{the_plan.environment}: {the_plan.sidecar} -> {target.label} ({target.digest}), "
        f"chosen by {target.chosen_by}; mode {the_plan.mode}"
    ]
    for wave in the_plan.waves:
        label = f"wave {wave.index}{' (canary)' if wave.canary else ''}"
        services = ", ".join(
            f"{step.key} (now {short_digest(step.digest_before)})" for step in wave.services
        )
        lines.append(f"{label}: {services}")
    lines.append(
        f"{len(the_plan.services)} to deploy in {len(the_plan.waves)} wave(s), "
        f"{len(the_plan.done)} already on the target, {len(the_plan.skipped)} skipped; "
        f"halt when a wave has more than {the_plan.failure_budget} failure(s)"
    )
    lines += [f"skipped {skipped.key}: {skipped.reason}" for skipped in the_plan.skipped]
    lines += [f"note: {note}" for note in the_plan.notes]
    return "\n".join(lines)
