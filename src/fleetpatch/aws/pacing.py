"""fleetpatch paces its own ECS and ECR calls to AWS's documented token buckets.

AWS throttles per account and Region, whichever client or process calls; so fleetpatch keeps
ONE `RateLimiter` per (account, Region) for the whole process, whatever number of sessions
and clients a command opens, and every client of that account and Region waits on it before
each request (botocore's `before-send`, so retries are paced too). The buckets are AWS's
(core/api_limits.py); botocore's own adaptive retries stay on top of it, for the calls other
tools make in the same account.

Two margins keep the pacer just inside AWS's buckets instead of on their edge, where a few
milliseconds of network jitter would make two calls arrive closer than they were sent: each
bucket holds one token less than AWS's, and refills at 95% of AWS's rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fleetpatch.core.api_limits import Limit, limit_of

RATE_MARGIN = 0.95


class _Bucket:
    """A token bucket that lends tokens ahead: a call that finds it empty reserves the next
    token and is told how long to wait for it, so waiting callers are served in order."""

    def __init__(self, limit: Limit, now: float) -> None:
        self.capacity = float(max(1, limit.burst - 1))
        self.rate = limit.rate * RATE_MARGIN
        self.tokens = self.capacity
        self.updated = now

    def reserve(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class RateLimiter:
    """AWS's buckets for one account and Region, shared by every client fleetpatch opens."""

    def __init__(
        self,
        account: str,
        region: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account = account
        self.region = region
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[Limit, _Bucket] = {}
        # Seconds callers waited, per bucket name (for tests and progress).
        self.waited: dict[str, float] = {}

    def acquire(self, service: str, operation: str) -> float:
        """Wait until `service`'s `operation` may be sent; the seconds waited (0 for calls AWS
        publishes no limit for)."""
        limit = limit_of(service, operation)
        if limit is None:
            return 0.0
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(limit)
            if bucket is None:
                bucket = self._buckets[limit] = _Bucket(limit, now)
            wait = bucket.reserve(now)
            if wait:
                self.waited[limit.name] = self.waited.get(limit.name, 0.0) + wait
        if wait:
            self._sleep(wait)
        return wait

    def pace(self, client: Any) -> None:
        """Make `client` (a boto3 ECS or ECR client) wait on these buckets before each
        request it sends."""
        service = client.meta.service_model.service_id.hyphenize()

        def before_send(event_name: str, **kwargs: Any) -> None:
            self.acquire(service, event_name.rsplit(".", 1)[-1])

        client.meta.events.register(f"before-send.{service}", before_send)


_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def rate_limiter(account: str, region: str) -> RateLimiter:
    """The process's one RateLimiter for `account` in `region`."""
    with _limiters_lock:
        limiter = _limiters.get((account, region))
        if limiter is None:
            limiter = _limiters[(account, region)] = RateLimiter(account, region)
        return limiter
