"""The rollout's event stream: what `--json` prints one per line and the progress view draws.

The executor only ever calls `sink.emit(Event(...))`; where events go is the caller's choice:
`JsonLinesSink` (machines), `fleetpatch.cli.progress.RichProgress` (people), `ListSink`
(tests), `NullSink`.

Event kinds and their data (every event also has `rollout_id`, `environment`, `time`):

| kind | data |
|---|---|
| `plan` | the plan's JSON (docs/rollout.md) |
| `wave_started` | wave, canary, services |
| `service_skipped` | service, reason (already verified, on target ...) |
| `deployment_requested` | service, wave, mode, aws_time: journaled, UpdateService comes next |
| `start_unconfirmed` | service, reason: UpdateService throttled or answer lost; next pass looks |
| `deployment_started` | service, deployment_id, digest_before, mode, adopted |
| `deployment_progress` | service, running, desired, rollout_state |
| `verified` | service, digest, tasks |
| `failed` | service, reason, events, stopped_reasons, rolled_back |
| `wave_finished` | wave, verified, failed |
| `halted` | reason, wave, failed, rolling_back (service -> deployment id it stops) |
| `rolled_back` | service, reason, stopped: the halt stopped a deployment that had timed out |
| `finished` | verified, failed, skipped, halted |
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from fleetpatch.core.times import iso_z


@dataclass(frozen=True)
class Event:
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self, **context: Any) -> dict[str, Any]:
        return {
            "event": self.kind,
            "time": iso_z(self.time),
            **context,
            **self.data,
        }


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class NullSink:
    def emit(self, event: Event) -> None:
        return None


class ListSink:
    """Keeps every event; for tests."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


class JsonLinesSink:
    """One JSON object per line, flushed at once so a pipe sees events as they happen."""

    def __init__(self, stream: IO[str], **context: Any) -> None:
        self._stream = stream
        self._context = context
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        line = json.dumps(event.to_json(**self._context), default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class FanOut:
    """Several sinks at once."""

    def __init__(self, *sinks: EventSink) -> None:
        self._sinks = sinks

    def emit(self, event: Event) -> None:
        for sink in self._sinks:
            sink.emit(event)
