"""Small helpers over the ECS API answers the rollout reads: batched describes and the few
facts it takes from a service (its PRIMARY deployment, its current revision).

Batches follow the API limits: DescribeServices 10 services, DescribeTasks 100 tasks,
DescribeServiceRevisions and DescribeServiceDeployments 20 ARNs per call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from fleetpatch.aws.errors import THROTTLE_CODES

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

T = TypeVar("T")

SERVICES_PER_DESCRIBE = 10
TASKS_PER_DESCRIBE = 100
ARNS_PER_DESCRIBE = 20


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def split_key(key: str) -> tuple[str, str]:
    """`cluster/service` -> (cluster, service)."""
    cluster, _, service = key.partition("/")
    return cluster, service


def describe_services(ecs: ECSClient, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """`cluster/service` -> its DescribeServices answer (None: missing or INACTIVE)."""
    return describe_services_at(ecs, keys)[0]


def describe_services_at(
    ecs: ECSClient, keys: Iterable[str]
) -> tuple[dict[str, dict[str, Any] | None], datetime | None]:
    """`describe_services`, and AWS's clock when it answered (the last answer's Date header):
    what ECS's own `createdAt` times can be compared with, whatever the local clock says."""
    aws_now: datetime | None = None
    by_cluster: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        cluster, service = split_key(key)
        by_cluster[cluster].append(service)
    found: dict[str, dict[str, Any] | None] = {}
    for cluster, names in by_cluster.items():
        for batch in chunks(names, SERVICES_PER_DESCRIBE):
            answer = ecs.describe_services(cluster=cluster, services=batch)
            aws_now = answer_time(answer) or aws_now
            for described in answer["services"]:
                data: dict[str, Any] = dict(described)
                if data.get("status") == "INACTIVE":
                    continue
                found[f"{cluster}/{data['serviceName']}"] = data
            for name in batch:
                found.setdefault(f"{cluster}/{name}", None)
    return found, aws_now


def answer_time(answer: Any) -> datetime | None:
    """AWS's clock from an answer's HTTP Date header (None if absent or unreadable)."""
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    text = headers.get("date")
    if not text:
        return None
    try:
        return parsedate_to_datetime(str(text))
    except (TypeError, ValueError):
        return None


def describe_revisions(ecs: ECSClient, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Service revision ARN -> DescribeServiceRevisions answer."""
    unique = list(dict.fromkeys(arns))
    revisions: dict[str, dict[str, Any]] = {}
    for batch in chunks(unique, ARNS_PER_DESCRIBE):
        answer = ecs.describe_service_revisions(serviceRevisionArns=batch)
        for revision in answer["serviceRevisions"]:
            revisions[str(revision["serviceRevisionArn"])] = dict(revision)
    return revisions


def describe_service_deployments(ecs: ECSClient, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
    unique = list(dict.fromkeys(arns))
    found: dict[str, dict[str, Any]] = {}
    for batch in chunks(unique, ARNS_PER_DESCRIBE):
        answer = ecs.describe_service_deployments(serviceDeploymentArns=batch)
        for deployment in answer["serviceDeployments"]:
            found[str(deployment["serviceDeploymentArn"])] = dict(deployment)
    return found


def primary(service: dict[str, Any]) -> dict[str, Any] | None:
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return dict(deployment)
    return None


def deployment(service: dict[str, Any], deployment_id: str) -> dict[str, Any] | None:
    for candidate in service.get("deployments", []):
        if candidate.get("id") == deployment_id:
            return dict(candidate)
    return None


def current_revision_arn(service: dict[str, Any]) -> str | None:
    """The revision the service's latest deployment targets (the one ECS asks the desired
    count of; the old ones drain to 0)."""
    current = service.get("currentServiceRevisions") or []
    if not current:
        return None
    target = max(current, key=lambda r: int(r.get("requestedTaskCount", 0)))
    return str(target["arn"])


def revision_digest(revision: dict[str, Any] | None, container: str) -> str | None:
    """The digest a service revision resolved for one container."""
    if revision is None:
        return None
    for image in revision.get("containerImages", []):
        if image.get("containerName") == container:
            digest = image.get("imageDigest")
            return str(digest) if digest else None
    return None


def is_transient(exc: BaseException) -> bool:
    """Throttling or a 5xx that survived botocore's retries: worth polling again later."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in THROTTLE_CODES or status >= 500
    return isinstance(exc, ConnectionClosedError | EndpointConnectionError | ReadTimeoutError)


def answer_lost(exc: BaseException) -> bool:
    """Whether a failed write may have been applied all the same: a 5xx or a connection that
    broke after the request was sent. UpdateService and RegisterTaskDefinition are not
    idempotent, so such a call is never retried blindly: the next pass re-reads ECS (a
    deployment created after the journaled intent is this run's) and goes on from there.
    Throttling and other 4xx answers mean the request was refused, not applied."""
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return status >= 500
    return isinstance(exc, ConnectionClosedError | ReadTimeoutError)
