"""Simulated time: `time_scale` simulated seconds pass per real second, and tests can jump ahead."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """A clock that starts at `start` and runs `time_scale` times faster than real time.

    `advance(seconds)` moves it forward at once, so tests never sleep for simulated minutes.
    """

    def __init__(self, start: datetime | None = None, time_scale: float = 1.0) -> None:
        self._start = start or datetime.now(UTC).replace(microsecond=0)
        self._real_start = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()
        self.time_scale = time_scale

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._real_start) * self.time_scale + self._offset
        return self._start + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += seconds
        return self.now()

    def jump_to(self, moment: datetime) -> None:
        """Set the clock to `moment` (forwards or backwards; used while replaying history)."""
        with self._lock:
            elapsed = (time.monotonic() - self._real_start) * self.time_scale + self._offset
            current = self._start + timedelta(seconds=elapsed)
            self._offset += (moment - current).total_seconds()

    def set_time_scale(self, time_scale: float) -> None:
        """Change speed without jumping: fold elapsed time into the offset first."""
        with self._lock:
            now_real = time.monotonic()
            self._offset += (now_real - self._real_start) * self.time_scale
            self._real_start = now_real
            self.time_scale = time_scale
