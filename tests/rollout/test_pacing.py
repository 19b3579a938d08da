"""The least time a rollout's calls take under AWS's rate limits: pure, with properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.config import Policy
from fleetpatch.core.api_limits import ECS_LIMITS, Limit, estimate, least_seconds, limit_of
from fleetpatch.rollout.pacing import plan_pacing
from fleetpatch.rollout.plan import plan
from fleetpatch.rollout.target import resolve_target
from tests.rollout.test_plan import SIDECAR, service, snapshot

limits = st.builds(
    Limit,
    name=st.just("bucket"),
    burst=st.integers(min_value=1, max_value=200),
    rate=st.sampled_from([0.5, 1.0, 2.0, 5.0, 20.0]),
)


def _greedy_last_start(calls: int, limit: Limit) -> float:
    """A client that sends each call as soon as the bucket holds a token: when the last one
    goes out (the bucket starts full, refills continuously)."""
    tokens, now = float(limit.burst), 0.0
    for _ in range(calls):
        if tokens < 1:
            wait = (1 - tokens) / limit.rate
            now += wait
            tokens += wait * limit.rate
        tokens -= 1
    return now


@given(st.integers(min_value=0, max_value=600), limits)
def test_least_seconds_is_when_a_greedy_client_sends_its_last_call(
    calls: int, limit: Limit
) -> None:
    assert abs(least_seconds(calls, limit) - _greedy_last_start(calls, limit)) < 1e-6


@given(st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=50), limits)
def test_more_calls_never_take_less_time(calls: int, more: int, limit: Limit) -> None:
    assert least_seconds(calls + more, limit) >= least_seconds(calls, limit)
    assert least_seconds(min(calls, limit.burst), limit) == 0


@given(
    st.dictionaries(
        st.sampled_from(sorted(ECS_LIMITS)), st.integers(min_value=0, max_value=500), max_size=8
    )
)
def test_the_slowest_bucket_binds_and_shared_buckets_add_up(counts: dict[str, int]) -> None:
    pacing = estimate({("ecs", operation): n for operation, n in counts.items()})
    per_bucket: dict[Limit, int] = {}
    for operation, n in counts.items():
        limit = ECS_LIMITS[operation]
        per_bucket[limit] = per_bucket.get(limit, 0) + n
    floors = {limit.name: least_seconds(n, limit) for limit, n in per_bucket.items()}
    assert pacing.seconds == max(floors.values(), default=0.0)
    if pacing.seconds == 0:
        assert pacing.binding is None
    else:
        assert pacing.binding is not None
        assert floors[pacing.binding.name] == pacing.seconds


def test_aws_documented_buckets() -> None:
    assert limit_of("ecs", "RegisterTaskDefinition") == limit_of("ecs", "DeregisterTaskDefinition")
    update = limit_of("ecs", "UpdateService")
    assert update is not None
    assert (update.burst, update.rate) == (50, 5)
    assert limit_of("ecr", "PutImage").rate == 10  # type: ignore[union-attr]
    assert limit_of("ecs", "TagResource") is None


def _fleet_plan(count: int, mode: str, max_parallel: int) -> object:
    services = [service(f"svc-{n:03d}") for n in range(count)]
    snap = snapshot(*services)
    target = resolve_target(snap.environments[0], SIDECAR)
    policy = Policy(max_parallel=max_parallel)
    return plan(snap, "dev", SIDECAR, target, policy, mode)  # type: ignore[arg-type]


@given(st.sampled_from([5, 50, 100, 300]))
def test_300_pin_mode_services_take_at_least_280_seconds_of_registration(
    max_parallel: int,
) -> None:
    pacing = plan_pacing(_fleet_plan(300, "pin", max_parallel))  # type: ignore[arg-type]
    # RegisterTaskDefinition: 20 at once, then 1 a second, however the waves fall.
    assert pacing.total.seconds >= 280
    assert pacing.total.binding == ECS_LIMITS["RegisterTaskDefinition"]
    assert pacing.to_json()["api_minutes"] >= 4.6


def test_300_tag_mode_services_wait_on_update_service() -> None:
    pacing = plan_pacing(_fleet_plan(300, "tag", 300))  # type: ignore[arg-type]
    # UpdateService: 50 at once, then 5 a second; the bucket is full once, not per wave.
    assert pacing.total.seconds == (300 - 50) / 5
    assert pacing.waves[1].pacing.seconds == (299 - 50) / 5
    assert pacing.total.binding == ECS_LIMITS["UpdateService"]
    assert pacing.waves[0].pacing.seconds == 0  # the canary wave: one call of each


def test_waves_within_the_burst_cost_no_wait_but_the_whole_still_does() -> None:
    pacing = plan_pacing(_fleet_plan(100, "pin", 10))  # type: ignore[arg-type]
    assert all(w.pacing.seconds == 0 for w in pacing.waves)
    assert pacing.total.seconds == 80
    wave = pacing.to_json()["waves"][1]
    assert wave["calls"] == {
        "ecs:DescribeServices": 1,
        "ecs:DescribeTaskDefinition": 10,
        "ecs:RegisterTaskDefinition": 10,
        "ecs:UpdateService": 10,
    }
