"""Following one run's events (rollout/events.py) and saying what a team should hear, when.

    story = RolloutStory(RunContext(rollout_id, "prod", "alice"))
    for event in events:
        for message in story.tell(event):
            ...                                      # post it (notifier.py)

Pure and deterministic. What is said:
- `plan` -> the start (a plan with no wave deploys nothing, and the run says nothing at all);
- `wave_finished` -> that wave's verified / failed counts;
- `halted` -> the halt, held back until the run's `finished` so that it can say what the
  halt's stops did (the `rolled_back` and `failed` events that follow it), then the end;
- a run that stops without `finished` (interrupted, an exception): `stopped(why)`.
Everything else only updates what the run knows (`verified`, `failed`, `service_skipped`...).
"""

from __future__ import annotations

from typing import Any

from fleetpatch.notify.messages import (
    Message,
    end_message,
    halt_message,
    start_message,
    stopped_message,
    wave_message,
)
from fleetpatch.notify.run import HaltState, RunContext, RunState
from fleetpatch.rollout.events import Event


class RolloutStory:
    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.state: RunState | None = None
        self._halt_told = False
        self._ended = False

    @property
    def quiet(self) -> bool:
        """Nothing to say: no plan seen yet, a plan that deploys nothing, or already ended."""
        return self.state is None or not self.state.waves or self._ended

    def tell(self, event: Event) -> list[Message]:
        if event.kind == "plan":
            self.state = RunState.from_plan(self.context, event.data)
            return [] if self.quiet else [start_message(self.state)]
        if self.quiet or self.state is None:
            return []
        return self._follow(self.state, event.kind, event.data)

    def pending(self) -> list[Message]:
        """The halt, if one is held back and not yet told."""
        if self.quiet or self.state is None or self.state.halt is None or self._halt_told:
            return []
        self._halt_told = True
        return [halt_message(self.state)]

    def stopped(self, why: str) -> list[Message]:
        """The run stopped without its `finished` event (interrupted, an exception): the
        halt held back, if any, and that it stopped."""
        if self.quiet or self.state is None:
            return []
        said = self.pending()
        self._ended = True
        return [*said, stopped_message(self.state, why)]

    def _follow(self, state: RunState, kind: str, data: dict[str, Any]) -> list[Message]:
        if kind == "verified":
            service = state.service(str(data["service"]))
            service.status = "verified"
            service.reason = str(data.get("note") or "")
        elif kind == "failed":
            self._failed(state, data)
        elif kind == "service_skipped":
            service = state.service(str(data["service"]))
            service.status, service.reason = "skipped", str(data.get("reason", ""))
        elif kind == "wave_finished":
            return [wave_message(state, int(data["wave"]))]
        elif kind == "halted":
            state.halt = HaltState(
                reason=str(data.get("reason", "")),
                wave=int(data.get("wave") or 0),
                rolling_back=dict(data.get("rolling_back") or {}),
            )
        elif kind == "rolled_back" and state.halt is not None:
            state.halt.stops[str(data["service"])] = str(data.get("reason", ""))
        elif kind == "finished":
            said = self.pending()
            self._ended = True
            return [*said, end_message(state)]
        return []

    def _failed(self, state: RunState, data: dict[str, Any]) -> None:
        service = state.service(str(data["service"]))
        service.status = "failed"
        service.reason = str(data.get("reason", ""))
        service.stopped_reasons = tuple(str(r) for r in data.get("stopped_reasons") or ())
        service.events = tuple(str(e) for e in data.get("events") or ())
        service.rolled_back = bool(data.get("rolled_back"))
        if data.get("halt_rollback") and state.halt is not None:
            # Failed because the halt stopped its deployment: a stop, not a cause.
            state.halt.stops[service.key] = service.reason
            service.rolled_back = bool(data.get("stopped"))
