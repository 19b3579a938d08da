"""How the rollout waits between passes: the clock it sleeps on and the polling policy.

Polling each service every few seconds is what gets fleet-sized tools throttled (ecspresso
#403, empire #946). So a wave's services are read together in each pass (10 per
DescribeServices call), and the interval grows from `PollPolicy.interval` to `max_interval`
while nothing finishes. Time comes from an injectable `Clock`, so tests can drive it (see
`SimClock` in the tests). When a deployment has ended is decided in rollout/decide.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


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
