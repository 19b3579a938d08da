"""Waiting for ECS deployments: one poll loop for a whole wave, in batches, with backoff.

Polling each service every few seconds is what gets fleet-sized tools throttled (ecspresso
#403, empire #946). So a wave's services are read together, 10 per DescribeServices call,
and the interval grows from `PollPolicy.interval` to `max_interval` while nothing finishes.
Time comes from an injectable `Clock`, so tests can drive it (see `SimClock` in the tests).

A deployment ends:
- COMPLETED: its rolloutState is COMPLETED and it is still the PRIMARY deployment;
- FAILED: its rolloutState is FAILED (the circuit breaker, a stop), or another deployment
  replaced it (a rollback, someone else's deploy), or the service is gone;
- TIMEOUT: neither within `PollPolicy.timeout` seconds (ECS may still finish it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.rollout import ecs as ecs_api

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


class Clock(Protocol):
    """Seconds on a monotonic scale, and a way to let time pass."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class PollPolicy:
    interval: float = 5.0
    max_interval: float = 20.0
    backoff: float = 1.5
    timeout: float = 30 * 60.0


@dataclass(frozen=True)
class Tracked:
    """A deployment the rollout waits for."""

    key: str  # cluster/service
    deployment_id: str


State = Literal["COMPLETED", "FAILED", "TIMEOUT"]


@dataclass(frozen=True)
class Outcome:
    key: str
    deployment_id: str
    state: State
    reason: str
    # The last DescribeServices answer for the service (None if it is gone): its events,
    # deployments and current revision explain the outcome.
    service: dict[str, Any] | None


@dataclass(frozen=True)
class Progress:
    key: str
    running: int
    desired: int
    rollout_state: str


def wait_for(
    ecs: ECSClient,
    tracked: Sequence[Tracked],
    *,
    clock: Clock,
    poll: PollPolicy,
    on_progress: Callable[[Progress], None] = lambda _: None,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
    heartbeat: Callable[[], None] = lambda: None,
) -> dict[str, Outcome]:
    """Poll until every tracked deployment has ended or `poll.timeout` has passed."""
    pending = {t.key: t for t in tracked}
    outcomes: dict[str, Outcome] = {}
    last_seen: dict[str, dict[str, Any] | None] = {}
    shown: dict[str, Progress] = {}
    deadline = clock.now() + poll.timeout
    interval = poll.interval
    while pending:
        answers = _read(ecs, list(pending))
        for key, service in answers.items():
            last_seen[key] = service
            outcome = evaluate(pending[key], service)
            if outcome is None:
                _report_progress(pending[key], service, shown, on_progress)
                continue
            outcomes[key] = outcome
            del pending[key]
            on_outcome(outcome)
        if not pending:
            break
        if clock.now() >= deadline:
            for key, item in pending.items():
                minutes = poll.timeout / 60
                outcome = Outcome(
                    key,
                    item.deployment_id,
                    "TIMEOUT",
                    f"deployment {item.deployment_id} did not finish within {minutes:g} minutes "
                    "(ECS may still finish it: run the command again to wait for it)",
                    last_seen.get(key),
                )
                outcomes[key] = outcome
                on_outcome(outcome)
            break
        heartbeat()
        clock.sleep(interval)
        interval = min(poll.max_interval, interval * poll.backoff)
    return outcomes


def _read(ecs: ECSClient, keys: list[str]) -> dict[str, dict[str, Any] | None]:
    """One round of DescribeServices; a throttled or failed round is just no news."""
    try:
        return ecs_api.describe_services(ecs, keys)
    except (ClientError, BotoCoreError) as exc:
        if ecs_api.is_transient(exc):
            return {}
        raise


def evaluate(item: Tracked, service: dict[str, Any] | None) -> Outcome | None:
    """Has this deployment ended? None while it is still going."""
    if service is None:
        return Outcome(item.key, item.deployment_id, "FAILED", "the service no longer exists", None)
    ours = ecs_api.deployment(service, item.deployment_id)
    if ours is None:
        return _replaced(item, service)
    state = ours.get("rolloutState")
    if state == "FAILED":
        reason = ours.get("rolloutStateReason") or "the deployment failed"
        return Outcome(item.key, item.deployment_id, "FAILED", str(reason), service)
    if ours.get("status") != "PRIMARY":
        return _replaced(item, service)
    if state == "COMPLETED":
        return Outcome(item.key, item.deployment_id, "COMPLETED", "deployment completed", service)
    return None


def _replaced(item: Tracked, service: dict[str, Any]) -> Outcome:
    current = ecs_api.primary(service)
    if current is None:
        reason = f"deployment {item.deployment_id} is no longer active"
    else:
        why = current.get("rolloutStateReason") or ""
        reason = f"deployment {item.deployment_id} was replaced by {current.get('id')}"
        reason += f": {why}" if why else ""
    return Outcome(item.key, item.deployment_id, "FAILED", reason, service)


def _report_progress(
    item: Tracked,
    service: dict[str, Any] | None,
    shown: dict[str, Progress],
    on_progress: Callable[[Progress], None],
) -> None:
    ours = ecs_api.deployment(service or {}, item.deployment_id) or {}
    progress = Progress(
        key=item.key,
        running=int(ours.get("runningCount", 0)),
        desired=int(ours.get("desiredCount", 0)),
        rollout_state=str(ours.get("rolloutState", "")),
    )
    if shown.get(item.key) != progress:
        shown[item.key] = progress
        on_progress(progress)
