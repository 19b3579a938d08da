"""Read which sidecar digest each service's past ECS deployments ran (the timeline's history
before, or without, the journal).

    ListServiceDeployments     one paginated call per service (the API has no batch form)
    DescribeServiceRevisions   20 revisions per call, for the whole environment

Services deployed before ECS's deployment APIs existed (October 2024) have no service
deployments; their timeline then starts at the snapshot. A missing permission or an API the
endpoint does not offer is not fatal either: the history is evidence on top of the journal
and the snapshot, so the environment gets an empty history and a note saying why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.compliance.timeline import RevisionRun, ServiceKey
from fleetpatch.core.snapshot import EnvironmentSnapshot

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

REVISIONS_PER_CALL = 20


@dataclass
class EcsHistory:
    runs: dict[ServiceKey, list[RevisionRun]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_history(ecs: ECSClient, env: EnvironmentSnapshot, sidecar: str) -> EcsHistory:
    """The deployments of every service of `env` that runs `sidecar`."""
    services = [
        (service.cluster, service.service, run.container)
        for service in env.services
        for run in service.sidecars
        if run.name == sidecar
    ]
    history = EcsHistory()
    try:
        deployments = {
            (cluster, name): _deployments(ecs, cluster, name) for cluster, name, _ in services
        }
        arns = [d["targetServiceRevisionArn"] for ds in deployments.values() for d in ds]
        revisions = _revisions(ecs, arns)
    except (ClientError, BotoCoreError) as exc:
        history.notes.append(f"{env.name}: ECS deployment history not read ({_why(exc)})")
        return history
    for cluster, name, container in services:
        runs = []
        for deployment in deployments[(cluster, name)]:
            digest = _digest(revisions.get(deployment["targetServiceRevisionArn"]), container)
            created = _utc(deployment.get("createdAt"))
            if digest is None or created is None:
                continue
            status = str(deployment.get("status", ""))
            finished = _utc(deployment.get("finishedAt"))
            runs.append(RevisionRun(digest, status, created, finished))
        history.runs[(env.name, f"{cluster}/{name}")] = runs
    return history


def _deployments(ecs: ECSClient, cluster: str, service: str) -> list[dict[str, Any]]:
    # boto3 has no paginator for this operation: follow nextToken by hand.
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {"cluster": cluster, "service": service}
    while True:
        page = ecs.list_service_deployments(**request)
        for item in page.get("serviceDeployments", []):
            if item.get("targetServiceRevisionArn") and item.get("createdAt"):
                found.append(dict(item))
        token = page.get("nextToken")
        if not token:
            return found
        request["nextToken"] = token


def _revisions(ecs: ECSClient, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
    unique: Sequence[str] = list(dict.fromkeys(arns))
    revisions: dict[str, dict[str, Any]] = {}
    for start in range(0, len(unique), REVISIONS_PER_CALL):
        batch = list(unique[start : start + REVISIONS_PER_CALL])
        answer = ecs.describe_service_revisions(serviceRevisionArns=batch)
        for revision in answer.get("serviceRevisions", []):
            revisions[str(revision["serviceRevisionArn"])] = dict(revision)
    return revisions


def _digest(revision: dict[str, Any] | None, container: str) -> str | None:
    if revision is None:
        return None
    for image in revision.get("containerImages", []):
        if image.get("containerName") == container and image.get("imageDigest"):
            return str(image["imageDigest"])
    return None


def _utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _why(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)
