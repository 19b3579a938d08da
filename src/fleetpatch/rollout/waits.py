"""How the rollout waits between passes: the clock it sleeps on and the polling policy.

Polling each service every few seconds is what gets fleet-sized tools throttled (ecspresso
#403, empire #946). So a wave's services are read together in each pass (10 per
DescribeServices call), and the interval grows from `PollPolicy.interval` to `max_interval`
while nothing finishes. Time comes from an injectable `Clock`, so tests can drive it (see
`SimClock` in the tests). When a deployment has ended is decided in rollout/decide.py.
"""

from __future__ import annotations

import threading
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


STOP_CHECK_SECONDS = 0.1


class StoppableClock(RealClock):
    """Real time, and a stop request (Ctrl-C: the CLI sets `stop`) honoured where the rollout
    waits: between passes and before each wave (`sleep(0)`), raising KeyboardInterrupt there.

    A KeyboardInterrupt raised wherever the signal lands can be swallowed (Python ignores an
    exception raised in a finalizer or a weakref callback), and the run would go on deploying;
    raised here, it always stops the run at a point where nothing is half done."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def sleep(self, seconds: float) -> None:
        # Short sleeps rather than Event.wait(timeout): see fleetpatch/threads.py.
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, STOP_CHECK_SECONDS))
        raise KeyboardInterrupt


@dataclass(frozen=True)
class PollPolicy:
    interval: float = 5.0
    max_interval: float = 20.0
    backoff: float = 1.5
    timeout: float = 30 * 60.0
