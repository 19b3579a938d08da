"""The long work (a rollout, promote or rollback) as a `Job`, and the `Launcher` that runs it.

Slack wants an answer within 3 seconds and a rollout takes minutes, so the worker that
decides (worker.py) hands the run to a launcher and returns:

    launcher.launch(job, worker.run_job)

`ThreadLauncher` runs it on a thread of this process (`fleetpatch slack serve`). A launcher
elsewhere (AWS Lambda) sends `job.to_json()` to another invocation, which calls
`run_job(Job.from_json(...))` of its own worker: a job is plain data for that reason.
A job is launched only by the one worker call that made it startable (the approval that
completed a request, or a command that needs no approval); the run itself passes the approval
gate once more (desk.authorize), which starts an approved request exactly once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from fleetpatch.config import Action
from fleetpatch.threads import join_within

log = logging.getLogger("fleetpatch.slack")


@dataclass(frozen=True)
class Job:
    action: Action
    environment: str  # the one changed (promote: the destination)
    requester_id: str  # the Slack user who asked: the run's principal
    requester_name: str
    channel: str  # where the request message is; the run's progress goes in its thread
    thread_ts: str
    source: str | None = None  # promote: the environment promoted from
    request_id: str | None = None  # the approved request it carries out; None: none needed

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        action = str(data["action"])
        if action not in ("rollout", "promote", "rollback"):
            raise ValueError(f"not a job action: {action!r}")
        return cls(
            action=action,  # type: ignore[arg-type]  # checked just above
            environment=str(data["environment"]),
            requester_id=str(data["requester_id"]),
            requester_name=str(data.get("requester_name") or ""),
            channel=str(data["channel"]),
            thread_ts=str(data["thread_ts"]),
            source=data.get("source"),
            request_id=data.get("request_id"),
        )


class Launcher(Protocol):
    """Runs `run(job)` somewhere, soon, without waiting for it."""

    def launch(self, job: Job, run: Callable[[Job], None]) -> None: ...


class ThreadLauncher:
    """One thread per job in this process; `join` waits for them (tests, shutdown)."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def launch(self, job: Job, run: Callable[[Job], None]) -> None:
        name = f"fleetpatch-{job.action}-{job.environment}"
        thread = threading.Thread(target=_logged, args=(run, job), name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            join_within(thread, timeout)


def _logged(run: Callable[[Job], None], job: Job) -> None:
    try:
        run(job)
    except Exception:  # run_job says what failed in Slack; this is the last resort
        log.exception("slack: the %s of %s failed", job.action, job.environment)
