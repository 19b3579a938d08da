"""Fault injection: throttling, server errors, latency and ECS-like rate limits.

Settable from the scenario (`faults:`) or at run time (`Simulator.set_faults`), so a test can
make AWS misbehave in the middle of a rollout.
"""

from __future__ import annotations

import random
import threading
import time

from fleetpatch.sim.protocol import AwsError
from fleetpatch.sim.scenario import Faults, RateLimit

# Token buckets shaped like ECS's documented API throttling (burst, sustained per second), per
# account and region. Reads are generous, writes strict; RegisterTaskDefinition is the famous
# 1/s one.
ECS_DEFAULT_LIMITS: dict[str, RateLimit] = {
    "DescribeServices": RateLimit(burst=100, rate=20),
    "DescribeTasks": RateLimit(burst=100, rate=20),
    "ListServices": RateLimit(burst=100, rate=20),
    "ListTasks": RateLimit(burst=100, rate=20),
    "DescribeTaskDefinition": RateLimit(burst=100, rate=20),
    "UpdateService": RateLimit(burst=50, rate=5),
    "RegisterTaskDefinition": RateLimit(burst=20, rate=1),
    "ListServiceDeployments": RateLimit(burst=100, rate=20),
    "DescribeServiceDeployments": RateLimit(burst=100, rate=20),
    "DescribeServiceRevisions": RateLimit(burst=100, rate=20),
}


class _Bucket:
    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self.tokens = float(limit.burst)
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(
            float(self.limit.burst), self.tokens + (now - self.updated) * self.limit.rate
        )
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self.configure(faults)

    def configure(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._random = random.Random(faults.seed)
            self._limits = dict(ECS_DEFAULT_LIMITS) if faults.ecs_defaults else {}
            self._limits.update(faults.rate_limits)
            self._buckets.clear()

    def before_call(self, account: str, region: str, action: str) -> None:
        """Sleep for the latency, then raise the fault this call draws, if any."""
        faults = self.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        with self._lock:
            limit = self._limits.get(action)
            if limit is not None:
                key = (account, region, action)
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = _Bucket(limit)
                if not bucket.take():
                    raise AwsError("ThrottlingException", "Rate exceeded")
            draw = self._random.random()
        if draw < faults.throttle_rate:
            raise AwsError("ThrottlingException", "Rate exceeded")
        if draw < faults.throttle_rate + faults.error_rate:
            raise AwsError(
                "ServerException", "Service unavailable (injected by the simulator)", status=500
            )
