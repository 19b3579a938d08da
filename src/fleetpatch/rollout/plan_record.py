"""A plan, whole, as JSON and back: what a rollout's steps read when they run apart.

The CLI runs a plan in one process; a workflow (fleetpatch.workflow) runs each wave, each
pass, in its own Lambda invocation. Those steps must run exactly the plan that was journaled,
not one re-planned from a fleet that has moved on, so the `plan` journal record carries the
whole plan (`plan_record`) and every step reads it back (`plan_from_record`).

`Plan.to_json` is the shape people and `--json` see; this one keeps every field a step needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from fleetpatch.rollout.plan import Mode, Plan, ServiceStep, Skipped, Wave
from fleetpatch.rollout.target import Target

RECORD_VERSION = 1


@dataclass(frozen=True)
class RecordedChange:
    """An other container's change as the plan recorded it (rollout/others.py's OtherChange,
    read back): enough to say what it was."""

    container: str
    text: str
    data: dict[str, Any]

    def describe(self) -> str:
        return self.text

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


def plan_record(the_plan: Plan) -> dict[str, Any]:
    return {
        "version": RECORD_VERSION,
        "environment": the_plan.environment,
        "sidecar": the_plan.sidecar,
        "mode": the_plan.mode,
        "target": the_plan.target.to_json(),
        "failure_budget": the_plan.failure_budget,
        "notes": list(the_plan.notes),
        "waves": [
            {"index": w.index, "canary": w.canary, "services": [_step(s) for s in w.services]}
            for w in the_plan.waves
        ],
        "done": [_step(s) for s in the_plan.done],
        "skipped": [
            {
                "key": s.key,
                "reason": s.reason,
                "other_changes": [
                    {"container": c.container, "text": c.describe(), "data": c.to_json()}
                    for c in s.other_changes
                ],
            }
            for s in the_plan.skipped
        ],
    }


def plan_from_record(data: dict[str, Any]) -> Plan:
    """The plan `plan_record` wrote; ValueError if `data` is not one."""
    if data.get("version") != RECORD_VERSION:
        raise ValueError(f"not a plan record of version {RECORD_VERSION}")
    target = data["target"]
    return Plan(
        environment=str(data["environment"]),
        sidecar=str(data["sidecar"]),
        target=Target(
            digest=str(target["digest"]),
            repository=str(target["repository"]),
            chosen_by=str(target["chosen_by"]),
            label=str(target["label"]),
            tag=target.get("tag"),
            registry=str(target.get("registry") or ""),
        ),
        mode=cast(Mode, data["mode"]),
        waves=tuple(
            Wave(int(w["index"]), bool(w["canary"]), tuple(_read_step(s) for s in w["services"]))
            for w in data["waves"]
        ),
        done=tuple(_read_step(s) for s in data["done"]),
        skipped=tuple(
            Skipped(
                str(s["key"]),
                str(s["reason"]),
                tuple(
                    RecordedChange(str(c["container"]), str(c["text"]), dict(c["data"]))
                    for c in s["other_changes"]
                ),
            )
            for s in data["skipped"]
        ),
        failure_budget=int(data["failure_budget"]),
        notes=tuple(str(n) for n in data["notes"]),
    )


def _step(step: ServiceStep) -> dict[str, Any]:
    return {
        "cluster": step.cluster,
        "service": step.service,
        "container": step.container,
        "image": step.image,
        "reference": step.reference,
        "task_definition": step.task_definition,
        "digest_before": step.digest_before,
        "desired_count": step.desired_count,
        "others": [list(pair) for pair in step.others],
        "bake_minutes": step.bake_minutes,
        "pin": step.pin,
    }


def _read_step(data: dict[str, Any]) -> ServiceStep:
    reference = data["reference"]
    if reference not in ("tag", "digest"):
        raise ValueError(f"unknown reference {reference!r}")
    return ServiceStep(
        cluster=str(data["cluster"]),
        service=str(data["service"]),
        container=str(data["container"]),
        image=str(data["image"]),
        reference=reference,
        task_definition=str(data["task_definition"]),
        digest_before=data.get("digest_before"),
        desired_count=int(data["desired_count"]),
        others=tuple((str(a), str(b)) for a, b in data["others"]),
        bake_minutes=float(data["bake_minutes"]),
        pin=bool(data["pin"]),
    )
