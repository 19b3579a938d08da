"""Fault injection: AWS's rate limits (on by default, sim/limits.py), throttling, server
errors and latency.

Settable from the scenario (`faults:`) or at run time (`Simulator.set_faults`), so a test can
make AWS misbehave in the middle of a rollout.
"""

from __future__ import annotations

import random
import threading
import time

from fleetpatch.sim.limits import aws_buckets
from fleetpatch.sim.protocol import AwsError
from fleetpatch.sim.scenario import Faults, RateLimit


class _Bucket:
    """A token bucket that refills in real (monotonic) time, as AWS's do: a client's retries
    and backoff sleep in real time, so the simulator's clock (which tests advance on their
    own) must not refill it."""

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


# Calls that change state: the ones whose answer `lost_answer_rate` may lose after applying.
STATE_CHANGING: dict[str, frozenset[str]] = {
    "ecs": frozenset(
        {
            "CreateService",
            "UpdateService",
            "DeleteService",
            "RegisterTaskDefinition",
            "DeregisterTaskDefinition",
            "StopServiceDeployment",
            "ContinueServiceDeployment",
            "StopTask",
        }
    ),
    "ecr": frozenset({"PutImage", "BatchDeleteImage"}),
}

LOST_ANSWER = AwsError(
    "ServerException",
    "We encountered an internal error. Please try again. (the change was applied; the "
    "simulator lost this answer)",
    status=500,
)


class FaultInjector:
    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self.configure(faults)

    def configure(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._random = random.Random(faults.seed)
            # Its own draws, one per state-changing call: with a seed, how many answers are
            # lost does not depend on how the reads in between interleave.
            self._losing = random.Random(faults.seed)
            # (service, action) -> (bucket key, limit): AWS's groups share one bucket; an
            # override gives its action a bucket of its own.
            self._limits: dict[tuple[str, str], tuple[str, RateLimit]] = {}
            if faults.aws_limits:
                for key, bucket in aws_buckets().items():
                    limit = RateLimit(burst=bucket.burst, rate=bucket.rate)
                    self._limits[key] = (bucket.name, limit)
            for action, limit in faults.rate_limits.items():
                for service in ("ecs", "ecr"):
                    self._limits[(service, action)] = (f"{service}:{action}:override", limit)
            self._buckets.clear()

    def loses_answer(self, service: str, action: str) -> bool:
        """Whether this call, already applied, loses its answer (`lost_answer_rate`)."""
        if action not in STATE_CHANGING.get(service, ()) or not self.faults.lost_answer_rate:
            return False
        with self._lock:
            return self._losing.random() < self.faults.lost_answer_rate

    def before_call(self, account: str, region: str, service: str, action: str) -> None:
        """Sleep for the latency, then raise the fault this call draws, if any: past its
        token bucket, ThrottlingException "Rate exceeded" (HTTP 400), as ECS and ECR answer."""
        faults = self.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        with self._lock:
            found = self._limits.get((service, action))
            if found is not None:
                name, limit = found
                key = (account, region, name)
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
