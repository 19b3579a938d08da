"""How long a plan's AWS calls take at least under AWS's rate limits. Pure.

Each wave makes, per service: UpdateService, and in pin mode (or for a service pinned in
moving-tag mode) DescribeTaskDefinition and RegisterTaskDefinition first; and it re-reads its
services with DescribeServices, 10 a call. Polling and verification come on top, so the
estimate is a floor: "at least".

Two floors hold, and the larger one is the estimate:
- each wave starts, at best, with full buckets (it waits for the one before it), so the waves'
  own floors add up;
- a bucket can be full only once: all of the rollout's calls through one bucket take at
  least (calls - burst) / rate seconds however the waves fall (300 pin-mode services:
  RegisterTaskDefinition at 20 at once then 1 a second, at least 280 seconds).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fleetpatch.core.api_limits import Pacing, estimate
from fleetpatch.rollout.plan import Plan, Wave

Calls = Counter[tuple[str, str]]


def wave_calls(plan: Plan, wave: Wave) -> Calls:
    """(service, operation) -> how many calls the wave makes at least."""
    calls: Calls = Counter()
    calls[("ecs", "DescribeServices")] += math.ceil(len(wave.services) / 10)
    for step in wave.services:
        if plan.mode == "pin" or step.pin:
            calls[("ecs", "DescribeTaskDefinition")] += 1
            calls[("ecs", "RegisterTaskDefinition")] += 1
        calls[("ecs", "UpdateService")] += 1
    return calls


@dataclass(frozen=True)
class WavePacing:
    index: int
    calls: Calls
    pacing: Pacing

    def to_json(self) -> dict[str, Any]:
        calls = {f"{service}:{operation}": n for (service, operation), n in self.calls.items()}
        return {"wave": self.index, **self.pacing.to_json(), "calls": dict(sorted(calls.items()))}


@dataclass(frozen=True)
class PlanPacing:
    """The plan's floor (`total`) and each wave's."""

    total: Pacing
    waves: tuple[WavePacing, ...]

    @property
    def minutes(self) -> float:
        return self.total.seconds / 60

    def to_json(self) -> dict[str, Any]:
        return {
            **self.total.to_json(),
            "api_minutes": round(self.minutes, 1),
            "waves": [w.to_json() for w in self.waves],
        }


def plan_pacing(plan: Plan) -> PlanPacing:
    """The least time `plan`'s calls take under AWS's default rate limits."""
    waves = tuple(
        WavePacing(wave.index, calls, estimate(calls))
        for wave in plan.waves
        for calls in [wave_calls(plan, wave)]
    )
    everything: Calls = Counter()
    for wave in waves:
        everything.update(wave.calls)
    whole = estimate(everything)
    added = sum(w.pacing.seconds for w in waves)
    if whole.seconds >= added:
        return PlanPacing(whole, waves)
    slowest = max(waves, key=lambda w: w.pacing.seconds)
    return PlanPacing(Pacing(added, slowest.pacing.binding), waves)
