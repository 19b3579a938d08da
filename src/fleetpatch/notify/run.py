"""What a notification knows of one run: the plan it was given and what became of each service.

Built from the rollout's events (story.py) and read by the formatters (messages.py); pure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pending", "verified", "failed", "skipped"]
Kind = Literal["rollout", "promote", "rollback"]


@dataclass(frozen=True)
class RunContext:
    """Who and what a run is, beyond its plan: given by whoever starts it (rollout/runner.py)."""

    rollout_id: str
    environment: str
    # Who started it: the OS user for the CLI, whatever the entry point names (a Slack user).
    actor: str


@dataclass
class ServiceState:
    key: str  # cluster/service
    wave: int  # 0: found on the target by the plan
    digest_before: str | None
    status: Status = "pending"
    reason: str = ""
    # ECS's own words, from the `failed` event.
    stopped_reasons: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    rolled_back: bool = False  # ECS rolled the deployment back (circuit breaker)

    def digest_after(self, target: str) -> str | None:
        """What it runs now, as far as the run knows; None: not known (a failure ECS did not
        roll back may have left some tasks on either digest)."""
        if self.status == "verified":
            return target
        if self.status == "failed" and not self.rolled_back:
            return None
        return self.digest_before


@dataclass(frozen=True)
class WaveState:
    index: int
    canary: bool
    services: tuple[str, ...]


@dataclass
class HaltState:
    reason: str
    wave: int
    # service -> the deployment the halt stops (StopServiceDeployment, ROLLBACK).
    rolling_back: dict[str, str] = field(default_factory=dict)
    # service -> what stopping it did (the `rolled_back` events, and failures "the rollout
    # halted while deployment ... was in flight").
    stops: dict[str, str] = field(default_factory=dict)


@dataclass
class RunState:
    context: RunContext
    sidecar: str
    mode: str
    target_digest: str
    target_label: str
    chosen_by: str
    failure_budget: int
    waves: tuple[WaveState, ...]
    services: dict[str, ServiceState]
    halt: HaltState | None = None

    @classmethod
    def from_plan(cls, context: RunContext, plan: dict[str, Any]) -> RunState:
        """From the `plan` event's data (Plan.to_json)."""
        target = plan.get("target") or {}
        services: dict[str, ServiceState] = {}
        for step in plan.get("done") or ():
            services[step["service"]] = ServiceState(step["service"], 0, step.get("digest_before"))
        waves = []
        for wave in plan.get("waves") or ():
            keys = tuple(step["service"] for step in wave.get("services") or ())
            waves.append(WaveState(int(wave["wave"]), bool(wave.get("canary")), keys))
            for step in wave.get("services") or ():
                key = step["service"]
                services[key] = ServiceState(key, int(wave["wave"]), step.get("digest_before"))
        for skipped in plan.get("skipped") or ():
            key = skipped["service"]
            services[key] = ServiceState(key, 0, None, "skipped", str(skipped.get("reason", "")))
        return cls(
            context=context,
            sidecar=str(plan.get("sidecar", "")),
            mode=str(plan.get("mode", "")),
            target_digest=str(target.get("digest", "")),
            target_label=str(target.get("label") or target.get("digest", "")),
            chosen_by=str(target.get("chosen_by", "")),
            failure_budget=int(plan.get("failure_budget") or 0),
            waves=tuple(waves),
            services=services,
        )

    @property
    def kind(self) -> Kind:
        """promote and rollback say so in how they chose the target (rollout/promote.py,
        rollout/rollback.py); anything else is a rollout."""
        if self.chosen_by.startswith("promoted from"):
            return "promote"
        if self.chosen_by.startswith("rollback"):
            return "rollback"
        return "rollout"

    @property
    def to_deploy(self) -> list[ServiceState]:
        return [s for s in self.services.values() if s.wave > 0]

    def wave(self, index: int) -> WaveState | None:
        return next((w for w in self.waves if w.index == index), None)

    def in_wave(self, index: int) -> list[ServiceState]:
        wave = self.wave(index)
        keys = wave.services if wave is not None else ()
        return [self.services[k] for k in keys if k in self.services]

    def with_status(self, status: Status) -> list[ServiceState]:
        return [s for s in self.services.values() if s.status == status]

    def digests_before(self) -> Counter[str | None]:
        """Digest -> how many of the run's services ran it before (skipped ones aside)."""
        return Counter(s.digest_before for s in self.services.values() if s.status != "skipped")

    def service(self, key: str) -> ServiceState:
        """A service the plan did not list (a later run's event): tracked from now on."""
        if key not in self.services:
            self.services[key] = ServiceState(key, 0, None)
        return self.services[key]
