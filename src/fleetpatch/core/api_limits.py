"""AWS's documented API rate limits, and the least time a number of calls takes under them.

Pure. ECS throttles each account and Region with token buckets, one per group of actions: a
bucket holds `burst` tokens, refills `rate` a second, and each call takes one token (AWS,
"Request throttling for the Amazon ECS API"). ECR publishes one rate of requests per second
per API ("Amazon ECR service quotas"); a one-second bucket (burst = rate) models it.

fleetpatch paces its own calls to these buckets (aws/pacing.py) and `plan` estimates how long
a rollout's calls take under them (rollout/pacing.py). The numbers are AWS's defaults: an
account with raised quotas is faster, never slower, than the estimate says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """One token bucket: `burst` tokens, `rate` tokens refilled a second."""

    name: str
    burst: int
    rate: float


def _group(name: str, burst: int, rate: float, *actions: str) -> dict[str, Limit]:
    limit = Limit(name, burst, rate)
    return dict.fromkeys(actions, limit)


ECS_LIMITS: dict[str, Limit] = {
    **_group("ECS service writes", 50, 5, "CreateService", "UpdateService", "DeleteService"),
    **_group("ECS service reads", 100, 20, "DescribeServices", "ListServices"),
    **_group(
        "ECS task reads",
        100,
        20,
        "DescribeTasks",
        "ListTasks",
        "DescribeContainerInstances",
        "ListContainerInstances",
    ),
    **_group(
        "ECS service deployment reads",
        50,
        20,
        "DescribeServiceDeployments",
        "ListServiceDeployments",
    ),
    **_group("ECS service revision reads", 50, 20, "DescribeServiceRevisions"),
    **_group(
        "ECS task definition writes",
        20,
        1,
        "RegisterTaskDefinition",
        "DeregisterTaskDefinition",
    ),
    **_group(
        "ECS task definition reads",
        50,
        20,
        "DescribeTaskDefinition",
        "ListTaskDefinitions",
        "ListTaskDefinitionFamilies",
    ),
    **_group("ECS cluster reads", 50, 20, "DescribeClusters", "ListClusters"),
    **_group("ECS tag reads", 50, 20, "ListTagsForResource"),
}

_ECR_RATES = {
    "BatchCheckLayerAvailability": 1000,
    "BatchGetImage": 2000,
    "CompleteLayerUpload": 100,
    "GetAuthorizationToken": 500,
    "GetDownloadUrlForLayer": 3000,
    "InitiateLayerUpload": 100,
    "PutImage": 10,
    "UploadLayerPart": 500,
}
ECR_LIMITS: dict[str, Limit] = {
    action: Limit(f"ECR {action}", rate, rate) for action, rate in _ECR_RATES.items()
}

LIMITS: dict[str, dict[str, Limit]] = {"ecs": ECS_LIMITS, "ecr": ECR_LIMITS}


def limit_of(service: str, operation: str) -> Limit | None:
    """The bucket AWS documents for `service`'s `operation` ("ecs", "UpdateService"), or None
    when AWS publishes none."""
    return LIMITS.get(service, {}).get(operation)


def least_seconds(calls: int, limit: Limit) -> float:
    """The least time `calls` calls take through a full `limit` bucket: the burst goes at
    once, every further call waits for a token (the last one starts this many seconds in)."""
    return max(0, calls - limit.burst) / limit.rate


@dataclass(frozen=True)
class Pacing:
    """The least seconds a set of calls takes, and the bucket that sets it (None: no call
    has to wait)."""

    seconds: float
    binding: Limit | None

    def to_json(self) -> dict[str, object]:
        binding = self.binding
        return {
            "api_seconds": round(self.seconds, 1),
            "binding_limit": None
            if binding is None
            else {"name": binding.name, "burst": binding.burst, "rate": binding.rate},
        }


def estimate(calls: Mapping[tuple[str, str], int]) -> Pacing:
    """(service, operation) -> number of calls, to the least time they take when they start
    with full buckets. Buckets refill in parallel, so the slowest bucket sets the time;
    operations sharing a bucket add up."""
    per_bucket: dict[Limit, int] = {}
    for (service, operation), count in calls.items():
        limit = limit_of(service, operation)
        if limit is not None and count > 0:
            per_bucket[limit] = per_bucket.get(limit, 0) + count
    slowest = Pacing(0.0, None)
    for limit, count in sorted(per_bucket.items(), key=lambda item: item[0].name):
        seconds = least_seconds(count, limit)
        if seconds > slowest.seconds:
            slowest = Pacing(seconds, limit)
    return slowest
