"""AWS's documented API rate limits, as the simulator enforces them (on by default).

ECS: "Request throttling for the Amazon ECS API"
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html): token
buckets per account and Region, one per group of actions, a bucket size (burst) and a refill
rate per second (sustained); past them ECS answers HTTP 400 `ThrottlingException`,
"Rate exceeded".

ECR: "Amazon ECR service quotas"
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html): one rate of
requests per second per API, per account and Region, no burst published; a one-second bucket
(burst = rate) models "N requests per second".

The simulator keeps its own copy of these numbers on purpose: fleetpatch's pacing table
(core/api_limits.py) is product code and must not read what the simulator writes, nor the
other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Bucket:
    """One token bucket: the actions that share it, its size and its refill per second."""

    name: str
    burst: int
    rate: float
    actions: frozenset[str]


def _bucket(name: str, burst: int, rate: float, *actions: str) -> Bucket:
    return Bucket(name, burst, rate, frozenset(actions))


# The page's whole table (checked against it on 2026-12-02), group by group.
ECS_BUCKETS: tuple[Bucket, ...] = (
    _bucket(
        "ecs:cluster-modify",
        20,
        1,
        "CreateCluster",
        "DeleteCluster",
        "PutClusterCapacityProviders",
        "UpdateCluster",
        "UpdateClusterSettings",
    ),
    _bucket("ecs:cluster-read", 50, 20, "DescribeClusters", "ListClusters"),
    _bucket(
        "ecs:task-definition-modify", 20, 1, "RegisterTaskDefinition", "DeregisterTaskDefinition"
    ),
    _bucket(
        "ecs:task-definition-read",
        50,
        20,
        "DescribeTaskDefinition",
        "ListTaskDefinitions",
        "ListTaskDefinitionFamilies",
    ),
    _bucket("ecs:task-definition-delete", 5, 1, "DeleteTaskDefinitions"),
    _bucket(
        "ecs:capacity-provider-modify",
        10,
        1,
        "CreateCapacityProvider",
        "DeleteCapacityProvider",
        "UpdateCapacityProvider",
    ),
    _bucket("ecs:capacity-provider-read", 50, 20, "DescribeCapacityProviders"),
    _bucket("ecs:tag-modify", 20, 10, "TagResource", "UntagResource"),
    _bucket("ecs:tag-read", 50, 20, "ListTagsForResource"),
    _bucket(
        "ecs:setting-modify",
        10,
        1,
        "DeleteAccountSetting",
        "PutAccountSetting",
        "PutAccountSettingDefault",
    ),
    _bucket("ecs:setting-read", 50, 20, "ListAccountSettings"),
    _bucket(
        "ecs:cluster-resource-modify",
        100,
        40,
        "DeleteAttributes",
        "DeregisterContainerInstance",
        "ExecuteCommand",
        "PutAttributes",
        "RunTask",
        "StartTask",
        "StopTask",
        "UpdateContainerAgent",
        "UpdateContainerInstancesState",
    ),
    _bucket(
        "ecs:task-read",
        100,
        20,
        "DescribeContainerInstances",
        "DescribeTasks",
        "ListAttributes",
        "ListContainerInstances",
        "ListTasks",
    ),
    _bucket(
        "ecs:agent-modify",
        200,
        120,
        "RegisterContainerInstance",
        "SubmitAttachmentStateChanges",
        "SubmitContainerStateChange",
        "SubmitTaskStateChange",
    ),
    _bucket("ecs:service-modify", 50, 5, "CreateService", "UpdateService", "DeleteService"),
    _bucket("ecs:service-read", 100, 20, "DescribeServices", "ListServices"),
    _bucket("ecs:deployment-read", 50, 20, "DescribeServiceDeployments", "ListServiceDeployments"),
    _bucket("ecs:revision-read", 50, 20, "DescribeServiceRevisions"),
    _bucket("ecs:task-protection", 200, 80, "UpdateTaskProtection", "GetTaskProtection"),
    _bucket("ecs:namespace-read", 10, 1, "ListServicesByNamespace"),
)

# Requests per second; the page publishes no burst.
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
ECR_BUCKETS: tuple[Bucket, ...] = tuple(
    _bucket(f"ecr:{action}", rate, rate, action) for action, rate in _ECR_RATES.items()
)


def aws_buckets() -> dict[tuple[str, str], Bucket]:
    """(service, action) -> the bucket AWS documents for it."""
    buckets: dict[tuple[str, str], Bucket] = {}
    for service, table in (("ecs", ECS_BUCKETS), ("ecr", ECR_BUCKETS)):
        for bucket in table:
            for action in bucket.actions:
                buckets[(service, action)] = bucket
    return buckets


@cache
def known_operations() -> frozenset[str]:
    """Every operation botocore's ECS and ECR models define (a scenario may limit these)."""
    import botocore.session

    session = botocore.session.get_session()
    names: set[str] = set()
    for service in ("ecs", "ecr"):
        names.update(session.get_service_model(service).operation_names)
    return frozenset(names)
