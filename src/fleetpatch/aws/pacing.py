"""fleetpatch paces its own ECS and ECR calls to AWS's documented token buckets.

AWS throttles per account and Region, whichever client or process calls; so fleetpatch keeps
ONE `RateLimiter` per (account, Region) for the whole process, whatever number of sessions
and clients a command opens, and every client of that account and Region waits on it before
each request (botocore's `before-send`, so retries are paced too). The buckets are AWS's
(core/api_limits.py). Other tools calling in the same account draw on the same buckets at
AWS, so a throttle can still come: it drains fleetpatch's bucket for that limit (no burst
left; calls go on at the refill rate, shared by every client of the account), and botocore's
standard retries back off the throttled call. One limiter per account, not botocore's
adaptive mode: its client-side bucket is per client, and a command has many clients per
account.

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
# The error codes botocore's standard retry mode treats as throttling (retries/standard.py).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


class _Bucket:
    """A token bucket that lends tokens ahead: a call that finds it empty reserves the next
    token and is told how long to wait for it, so waiting callers are served in order."""

    def __init__(self, limit: Limit, now: float) -> None:
        self.capacity = float(max(1, limit.burst - 1))
        self.rate = limit.rate * RATE_MARGIN
        self.tokens = self.capacity
        self.updated = now

    def drain(self) -> None:
        """AWS throttled: whatever burst we thought was left, others used."""
        self.tokens = min(self.tokens, 0.0)

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
        # Seconds callers waited, and throttles AWS answered, per bucket name.
        self.waited: dict[str, float] = {}
        self.throttles: dict[str, int] = {}

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

    def throttled(self, service: str, operation: str) -> None:
        """AWS answered `operation` with a throttle: drain its bucket."""
        limit = limit_of(service, operation)
        if limit is None:
            return
        with self._lock:
            bucket = self._buckets.get(limit)
            if bucket is not None:
                bucket.drain()
            self.throttles[limit.name] = self.throttles.get(limit.name, 0) + 1

    def pace(self, client: Any) -> None:
        """Make `client` (a boto3 ECS or ECR client) wait on these buckets before each
        request it sends, and drain a bucket when AWS throttles its operation."""
        service = client.meta.service_model.service_id.hyphenize()

        def before_send(event_name: str, **kwargs: Any) -> None:
            self.acquire(service, event_name.rsplit(".", 1)[-1])

        def needs_retry(event_name: str, response: Any = None, **kwargs: Any) -> None:
            # Every attempt's answer passes here before botocore decides to retry it.
            if response is None:
                return None
            code = response[1].get("Error", {}).get("Code")
            if code in THROTTLING_CODES:
                self.throttled(service, event_name.rsplit(".", 1)[-1])
            return None  # never decides the retry: botocore's standard mode does

        client.meta.events.register(f"before-send.{service}", before_send)
        client.meta.events.register(f"needs-retry.{service}", needs_retry)


_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def rate_limiter(account: str, region: str) -> RateLimiter:
    """The process's one RateLimiter for `account` in `region`."""
    with _limiters_lock:
        limiter = _limiters.get((account, region))
        if limiter is None:
            limiter = _limiters[(account, region)] = RateLimiter(account, region)
        return limiter
