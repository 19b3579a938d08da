"""fleetpatch paces itself to AWS's rate limits: one limiter per account and Region, shared by
every session and client of the process, against the simulator's AWS-shaped buckets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fleetpatch.aws.pacing import RateLimiter
from fleetpatch.aws.session import AwsSessions
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from tests.inventory.helpers import make_config


def _register(ecs: Any, n: int) -> None:
    ecs.register_task_definition(
        family=f"paced-{n}",
        containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}],
    )


def test_two_sessions_of_one_account_share_one_limiter_and_are_never_throttled(
    sim: Simulator, tmp_path: Path
) -> None:
    config = make_config(sim, tmp_path)
    # As `rollout` does: separate sessions for the account check, the plan and the run.
    first, second = AwsSessions(config).get("dev"), AwsSessions(config).get("dev")
    assert first.rate_limiter() is second.rate_limiter()
    clients = [first.ecs(), second.ecs()]
    sim.reset_calls()
    started = time.monotonic()
    # 24 registrations, alternating clients: AWS allows 20 at once, then 1 a second.
    for n in range(24):
        _register(clients[n % 2], n)
    elapsed = time.monotonic() - started
    # Every call was sent once: none was throttled and retried.
    assert sim.calls["ecs:RegisterTaskDefinition"] == 24
    # The shared bucket (19 tokens, 0.95 a second) made the last calls wait, not the server.
    assert elapsed >= (24 - 19 - 1) / 0.95


def test_another_region_has_its_own_limiter(sim: Simulator, tmp_path: Path) -> None:
    aws = AwsSessions(make_config(sim, tmp_path)).get("dev")
    assert aws.rate_limiter("us-east-1") is not aws.rate_limiter()
    assert aws.rate_limiter("us-east-1") is AwsSessions(make_config(sim, tmp_path)).get(
        "dev"
    ).rate_limiter("us-east-1")


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_waiting_callers_are_spaced_at_the_documented_rate() -> None:
    fake = FakeTime()
    limiter = RateLimiter("111111111111", "eu-west-1", clock=fake.clock, sleep=fake.sleep)
    waits = [limiter.acquire("ecs", "RegisterTaskDefinition") for _ in range(25)]
    # A burst of 19 (one under AWS's 20), then one every 1/0.95 seconds.
    assert waits[:19] == [0.0] * 19
    assert all(abs(w - 1 / 0.95) < 1e-9 for w in waits[19:])
    assert limiter.acquire("ecs", "TagResource") == 0.0  # AWS publishes no limit for it
    assert set(limiter.waited) == {"ECS task definition writes"}


def test_operations_of_one_group_share_its_bucket() -> None:
    fake = FakeTime()
    limiter = RateLimiter("111111111111", "eu-west-1", clock=fake.clock, sleep=fake.sleep)
    for _ in range(99):
        limiter.acquire("ecs", "DescribeServices")
    assert limiter.acquire("ecs", "ListServices") > 0
    assert limiter.acquire("ecs", "ListTasks") == 0.0


def test_a_throttle_caused_by_another_tool_drains_the_bucket_and_the_call_is_retried(
    sim: Simulator, tmp_path: Path
) -> None:
    aws = AwsSessions(make_config(sim, tmp_path)).get("dev")
    ours = aws.ecs()
    # Another tool in the same account spends AWS's whole burst of task definition writes.
    other = client(sim, "ecs", "dev")
    for n in range(20):
        _register(other, 100 + n)
    limiter = aws.rate_limiter()  # the process's one limiter for the account: other tests too
    before = limiter.throttles.get("ECS task definition writes", 0)
    sim.reset_calls()
    _register(ours, 0)  # throttled by AWS, retried by botocore's standard mode: it lands
    throttled = limiter.throttles["ECS task definition writes"] - before
    assert throttled >= 1
    assert throttled == sim.calls["ecs:RegisterTaskDefinition"] - 1  # every retry counted
    # Drained: the next call waits for the refill instead of assuming a burst is left.
    assert limiter.acquire("ecs", "RegisterTaskDefinition") > 0


def test_draining_leaves_no_burst() -> None:
    fake = FakeTime()
    limiter = RateLimiter("111111111111", "eu-west-1", clock=fake.clock, sleep=fake.sleep)
    assert limiter.acquire("ecs", "UpdateService") == 0.0
    limiter.throttled("ecs", "UpdateService")
    assert abs(limiter.acquire("ecs", "UpdateService") - 1 / (5 * 0.95)) < 1e-9
