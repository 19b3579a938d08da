"""Waiting for a thread without a timed lock wait.

`Thread.join(timeout)` is a timed wait on a lock; libfaketime, which the suite runs under to
check that it passes on later dates, cannot fake those (they never wake up). Short sleeps
can be faked, and 50 ms is prompt enough for the ends of runs that use this.
"""

from __future__ import annotations

import threading
import time

POLL_SECONDS = 0.05


def join_within(thread: threading.Thread, seconds: float | None) -> None:
    """Wait until `thread` ends, or at most `seconds` (None: as long as it takes)."""
    if seconds is None:
        thread.join()
        return
    deadline = time.monotonic() + seconds
    while thread.is_alive():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, POLL_SECONDS))
