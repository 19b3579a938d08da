"""Act: the only part of the rollout that changes AWS.

    started = start_deployment(ecs, plan, step, task_definitions)   # one service
    stopped = stop_deployment(ecs, key, deployment_id, arn)         # halt, abort

Moving-tag mode forces a new deployment (ECS re-resolves the tag); pin mode registers a
revision whose sidecar is pinned to the target digest (rollout/pin.py), or returns to an
existing revision (rollback), and points the service at it. The caller journals its intent
before and what ECS answered after (rollout/record.py).

RegisterTaskDefinition is not idempotent: when the journal holds an intent for the service
with no answer after it (a lost or refused answer, a run killed mid-call), the revision an
earlier attempt registered may exist. Then, and only then, pin mode looks for it first
(ListTaskDefinitions newest first, DescribeTaskDefinition of the revisions newer than the
current one) and reuses it, so a lost answer leaves no spare revision and costs no list call
on the normal path.

Stopping is StopServiceDeployment(stopType=ROLLBACK): ECS returns the service to its last
successful revision (it does so even where rollback was not configured). A deployment ECS
already finished can't be stopped: ECS says so, and the answer says it in ECS's words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fleetpatch.aws.errors import DENIED_CODES, EXPIRED_CODES, INVALID_CODES
from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.pin import pin_request, request_members, reusable
from fleetpatch.rollout.plan import Mode, ServiceStep

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


@dataclass(frozen=True)
class Started:
    deployment_id: str
    service_deployment_arn: str | None
    details: dict[str, Any] = field(default_factory=dict)


def start_deployment(
    ecs: ECSClient,
    mode: Mode,
    step: ServiceStep,
    target: str,
    task_definitions: Mapping[str, str],
    *,
    writer: ECSClient | None = None,
    rollout_id: str | None = None,
    look_first: bool = False,
) -> Started:
    """UpdateService for one service (and RegisterTaskDefinition first in pin mode, or for a
    step the plan pins in moving-tag mode: `step.pin`). `writer` makes the two writes: a
    client that never retries them on its own (AwsEnvironment.ecs_writes); reads use `ecs`.
    `rollout_id` goes into the new revision's owner tags; `look_first`: an earlier attempt may
    have registered it (its answer never journaled), so reuse that revision if it exists."""
    writer = writer or ecs
    cluster, service = ecs_api.split_key(step.key)
    if step.pin:
        mode = "pin"
    details: dict[str, Any] = {"mode": mode}
    if mode == "pin":
        arn = task_definitions.get(step.key)
        if arn is None:
            arn, reused = _pinned_revision(ecs, writer, step, target, rollout_id, look_first)
            if reused:
                details["task_definition_reused"] = True
        details.update(task_definition_before=step.task_definition, task_definition=arn)
        answer = writer.update_service(cluster=cluster, service=service, taskDefinition=arn)
    else:
        answer = writer.update_service(cluster=cluster, service=service, forceNewDeployment=True)
    live: dict[str, Any] = dict(answer["service"])
    current = ecs_api.primary(live) or {}
    sd_arn = live.get("currentServiceDeployment")
    if sd_arn:
        details["service_deployment_arn"] = sd_arn
    return Started(str(current.get("id", "")), str(sd_arn) if sd_arn else None, details)


@dataclass(frozen=True)
class Stopped:
    service: str
    deployment_id: str
    ok: bool
    message: str


def stop_deployment(ecs: ECSClient, service: str, deployment_id: str, arn: str | None) -> Stopped:
    """Roll one in-flight deployment back (its service deployment ARN, looked up if None)."""
    if arn is None:
        arn = _arn_from_ecs(ecs, service, deployment_id)
    if arn is None:
        return Stopped(service, deployment_id, False, "no service deployment ARN to stop")
    try:
        ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    except ClientError as exc:
        if is_fatal(exc):
            raise
        return Stopped(service, deployment_id, False, aws_message(exc))
    return Stopped(service, deployment_id, True, "stopped; ECS rolls back")


def _arn_from_ecs(ecs: ECSClient, service: str, deployment_id: str) -> str | None:
    described = ecs_api.describe_services(ecs, [service]).get(service) or {}
    primary = ecs_api.primary(described) or {}
    arn = described.get("currentServiceDeployment")
    return str(arn) if arn and primary.get("id") == deployment_id else None


def _pinned_revision(
    ecs: ECSClient,
    writer: ECSClient,
    step: ServiceStep,
    target: str,
    rollout_id: str | None,
    look_first: bool,
) -> tuple[str, bool]:
    """The pinned revision's ARN, and whether it was found rather than registered now."""
    described = ecs.describe_task_definition(taskDefinition=step.task_definition, include=["TAGS"])
    request = pin_request(
        dict(described),
        step.container,
        target,
        members=request_members(ecs),
        others=dict(step.others),
        rollout_id=rollout_id,
    )
    if look_first:
        base = int(described["taskDefinition"].get("revision", 0))
        found = _registered_earlier(ecs, request, base)
        if found is not None:
            return found, True
    registered = writer.register_task_definition(**request)
    return str(registered["taskDefinition"]["taskDefinitionArn"]), False


def _registered_earlier(ecs: ECSClient, request: dict[str, Any], base: int) -> str | None:
    """The newest ACTIVE revision of the request's family, newer than `base`, that fleetpatch
    registered for this very request (pin.reusable): ListTaskDefinitions newest first (its
    `familyPrefix` is the full family name), one DescribeTaskDefinition per newer revision."""
    family = str(request["family"])
    token: str | None = None
    while True:
        page = (
            ecs.list_task_definitions(
                familyPrefix=family, status="ACTIVE", sort="DESC", nextToken=token
            )
            if token
            else ecs.list_task_definitions(familyPrefix=family, status="ACTIVE", sort="DESC")
        )
        for arn in page.get("taskDefinitionArns", []):
            name, _, revision = arn.rpartition("/")[2].rpartition(":")
            if name != family:
                continue
            if int(revision) <= base:
                return None  # newest first: the rest are older than the current revision
            candidate = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
            if reusable(dict(candidate), request):
                return arn
        token = page.get("nextToken")
        if not token:
            return None


def is_fatal(exc: ClientError) -> bool:
    """Errors about who we are, not about the service: stop the run (the CLI explains them)."""
    code = exc.response.get("Error", {}).get("Code", "")
    return code in EXPIRED_CODES | INVALID_CODES | DENIED_CODES


def aws_message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name}: {error.get('Code', '')}: {error.get('Message', '')}"
    return str(exc)
