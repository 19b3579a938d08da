"""What travels between a workflow's steps: the lock and a wave's progress, as JSON.

A step runs in its own Lambda invocation and remembers nothing; Step Functions hands each one
the state the step before returned. Only what a step cannot read again goes there: the lock
it holds (its token proves it), when the wave started and each service's deadline, and what
the run stopped waiting for. Which services are still open is read again from the journal
every time (`open_steps`), so a step retried with an older state changes nothing twice.

Times in a workflow are wall-clock seconds (epoch): a monotonic clock means nothing to the
next invocation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from fleetpatch.journal import Entry, EntryKind, Lock
from fleetpatch.rollout.plan import ServiceStep, Wave
from fleetpatch.rollout.waves import WaveProgress

CONCLUSIONS = frozenset({EntryKind.VERIFIED, EntryKind.FAILED, EntryKind.SKIPPED})


class EpochClock:
    """The rollout's Clock for a workflow step: seconds since the epoch from `now`. A step
    never waits: the state machine's Wait states do."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now().timestamp()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            raise RuntimeError("a workflow step never sleeps: the state machine waits")


def lock_to_json(lock: Lock) -> dict[str, Any]:
    return {
        "environment": lock.environment,
        "owner": lock.owner,
        "token": lock.token,
        "acquired_at": lock.acquired_at.isoformat(),
        "expires_at": lock.expires_at.isoformat(),
        "ttl_seconds": lock.ttl.total_seconds(),
    }


def lock_from_json(data: dict[str, Any]) -> Lock:
    return Lock(
        environment=str(data["environment"]),
        owner=str(data["owner"]),
        token=str(data["token"]),
        acquired_at=datetime.fromisoformat(str(data["acquired_at"])),
        expires_at=datetime.fromisoformat(str(data["expires_at"])),
        ttl=timedelta(seconds=float(data["ttl_seconds"])),
    )


def progress_to_json(progress: WaveProgress, interval: float) -> dict[str, Any]:
    return {
        "wave": progress.wave.index,
        "started_at": progress.started_at,
        "tag_checked": progress.tag_checked,
        "deadlines": dict(progress.deadlines),
        "timed_out": dict(progress.timed_out),
        "unconfirmed": dict(progress.unconfirmed),
        "interval": interval,
    }


def progress_from_json(
    wave: Wave, data: dict[str, Any], open_steps: dict[str, ServiceStep]
) -> tuple[WaveProgress, float]:
    """The wave's progress as the step before left it, and the poll interval it reached."""
    progress = WaveProgress(
        wave,
        open_steps,
        tag_checked=bool(data.get("tag_checked")),
        deadlines={str(k): float(v) for k, v in dict(data.get("deadlines") or {}).items()},
        started_at=float(data["started_at"]),
        timed_out={str(k): str(v) for k, v in dict(data.get("timed_out") or {}).items()},
        unconfirmed={str(k): str(v) for k, v in dict(data.get("unconfirmed") or {}).items()},
    )
    return progress, float(data["interval"])


def open_steps(wave: Wave, entries: Iterable[Entry], rollout_id: str) -> dict[str, ServiceStep]:
    """The wave's services this run has not concluded yet (verified, failed, skipped), by the
    journal: a step retried after its answer was lost finds them concluded already."""
    concluded = {e.service for e in entries if e.rollout_id == rollout_id and e.kind in CONCLUSIONS}
    return {s.key: s for s in wave.services if s.key not in concluded}
