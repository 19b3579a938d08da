"""A wave's progress within one run (rollout/executor.py): which services are still open, when
each one's wait is over, and what the live view last showed of each.

Nothing here is trusted across passes for decisions - each pass re-reads the journal and ECS -
except the deadlines and the deployments the run stopped waiting for, which are this run's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.decide import Action, Decision, stage_view
from fleetpatch.rollout.observe import Observation
from fleetpatch.rollout.plan import ServiceStep, Wave


@dataclass
class WaveProgress:
    wave: Wave
    open: dict[str, ServiceStep]
    # Shown progress per service, so an unchanged poll prints nothing (display only).
    shown: dict[str, tuple[int, int, str, str]] = field(default_factory=dict)
    tag_checked: bool = False
    # service key -> when its wait is over (clock seconds), from the service's own strategy.
    deadlines: dict[str, float] = field(default_factory=dict)
    started_at: float = 0.0
    # service key -> AWS's time when its deployment was first seen baking (display only).
    baking_since: dict[str, datetime] = field(default_factory=dict)
    # service key -> deployment id: failed by its timeout, maybe still deploying in ECS.
    timed_out: dict[str, str] = field(default_factory=dict)
    # service key -> why its last start was not confirmed (throttled, answer lost): the next
    # pass looks again; if its time runs out first, this is what it failed on.
    unconfirmed: dict[str, str] = field(default_factory=dict)

    def stage_views(
        self,
        decisions: dict[str, Decision],
        seen: Observation,
        followed: dict[str, dict[str, Any]],
    ) -> dict[str, dict[str, Any]]:
        """Native strategies: each waiting deployment's stage (read this pass) - the live view
        shows it, the bake time left, a PAUSE hook to answer."""
        waiting = {k for k, d in decisions.items() if d.action is Action.WAIT}
        views = {}
        for key, sd in followed.items():
            if key not in waiting:
                continue
            if sd.get("lifecycleStage") == "BAKE_TIME" and seen.aws_now is not None:
                self.baking_since.setdefault(key, seen.aws_now)
            views[key] = stage_view(sd, self.baking_since.get(key), seen.aws_now)
        return views

    def changed_progress(
        self,
        key: str,
        decision: Decision,
        service: dict[str, object] | None,
        stage: dict[str, Any],
    ) -> dict[str, Any] | None:
        """The `deployment_progress` event for a waiting service, or None if nothing changed
        since it was last shown."""
        ours = ecs_api.deployment(dict(service or {}), decision.deployment_id or "") or {}
        shown = (
            int(ours.get("runningCount", 0)),
            int(ours.get("desiredCount", 0)),
            str(ours.get("rolloutState", "")),
            repr(sorted(stage.items())),
        )
        if self.shown.get(key) == shown:
            return None
        self.shown[key] = shown
        running, desired, state, _ = shown
        return {
            "service": key,
            "running": running,
            "desired": desired,
            "rollout_state": state,
            **stage,
        }
