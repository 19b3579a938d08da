"""Verification: do the running tasks really run the target digest?

A deployment that ECS calls COMPLETED proves only that tasks of the new revision are running.
With a moving tag, the revision may have resolved another digest (the tag moved between the
check and UpdateService). So for each service:

- every RUNNING task's sidecar container must report `imageDigest` == target, and no task
  (of any status but STOPPED) may run another digest;
- at least one task must run it, unless the service wants none;
- the current service revision's `containerImages` (where the service has revisions) must
  have resolved the sidecar to the target: a deployment COMPLETED on another digest fails;
- every other container of a running task still runs the digest it ran before the rollout
  (only the sidecar may change).

For failures, `explain_failure` gathers ECS's own words: the service's latest events, the
stoppedReason of the tasks the deployment started, and the service deployment's rollback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fleetpatch.rollout import ecs as ecs_api

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

MAX_EVENTS = 5
MAX_STOPPED_REASONS = 5


@dataclass(frozen=True)
class Check:
    """One service to verify: which container is the sidecar, which digest it must run."""

    key: str  # cluster/service
    container: str
    digest: str
    desired_count: int
    # The service's current revision ARN (from the last DescribeServices), if it has one.
    revision_arn: str | None = None
    # The other containers and the digests they ran before the rollout: they must not change.
    others: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Verification:
    key: str
    ok: bool
    # digest -> number of RUNNING tasks whose sidecar runs it
    digests: dict[str, int] = field(default_factory=dict)
    revision_digest: str | None = None
    problems: tuple[str, ...] = ()

    @property
    def tasks(self) -> int:
        return sum(self.digests.values())

    @property
    def reason(self) -> str:
        return "; ".join(self.problems)


def verify(ecs: ECSClient, checks: Sequence[Check]) -> dict[str, Verification]:
    """Verify every service of `checks`: ListTasks per service, DescribeTasks 100 at a time
    per cluster, DescribeServiceRevisions 20 at a time."""
    tasks = _running_tasks(ecs, checks)
    arns = [c.revision_arn for c in checks if c.revision_arn]
    revisions = ecs_api.describe_revisions(ecs, arns) if arns else {}
    return {
        c.key: judge(c, tasks.get(c.key, []), revisions.get(c.revision_arn or "")) for c in checks
    }


def judge(
    check: Check, tasks: list[dict[str, Any]], revision: dict[str, Any] | None
) -> Verification:
    """Pure: the verdict for one service from its tasks and current revision."""
    problems: list[str] = []
    running: Counter[str] = Counter()
    for task in tasks:
        digest = _sidecar_digest(task, check.container)
        status = task.get("lastStatus")
        if digest is None:
            if status == "RUNNING":
                problems.append(f"task {_task_id(task)} runs no {check.container} container")
            continue
        if status == "RUNNING":
            running[digest] += 1
        if digest != check.digest:
            problems.append(f"task {_task_id(task)} ({status}) runs {_short(digest)}")
        if status == "RUNNING":
            problems.extend(_changed_others(task, check.others))
    if check.desired_count > 0 and running[check.digest] == 0:
        problems.append("no running task runs the target digest")
    resolved = ecs_api.revision_digest(revision, check.container)
    if resolved is not None and resolved != check.digest:
        problems.append(
            f"the deployment completed on {_short(resolved)}, not the target "
            f"{_short(check.digest)} (did the tag move?)"
        )
    return Verification(
        key=check.key,
        ok=not problems,
        digests=dict(running),
        revision_digest=resolved,
        problems=tuple(problems[:10]),
    )


def _changed_others(task: dict[str, Any], others: tuple[tuple[str, str], ...]) -> list[str]:
    """Other containers of a running task that no longer run their pre-rollout digest."""
    changed = []
    for name, before in others:
        now = _sidecar_digest(task, name)
        if now is not None and now != before:
            changed.append(
                f"task {_task_id(task)}: {name} runs {_short(now)}, not {_short(before)} as "
                "before the rollout (only the sidecar may change)"
            )
    return changed


def _running_tasks(ecs: ECSClient, checks: Sequence[Check]) -> dict[str, list[dict[str, Any]]]:
    """key -> its tasks whose desired status is RUNNING."""
    task_arns: dict[str, list[str]] = {}
    for check in checks:
        cluster, service = ecs_api.split_key(check.key)
        arns: list[str] = []
        paginator = ecs.get_paginator("list_tasks")
        for page in paginator.paginate(
            cluster=cluster, serviceName=service, desiredStatus="RUNNING"
        ):
            arns.extend(page["taskArns"])
        task_arns[check.key] = arns
    return _describe_by_key(ecs, task_arns)


def _describe_by_key(
    ecs: ECSClient, task_arns: dict[str, list[str]]
) -> dict[str, list[dict[str, Any]]]:
    owner = {arn: key for key, arns in task_arns.items() for arn in arns}
    by_cluster: dict[str, list[str]] = {}
    for key, arns in task_arns.items():
        by_cluster.setdefault(ecs_api.split_key(key)[0], []).extend(arns)
    found: dict[str, list[dict[str, Any]]] = {key: [] for key in task_arns}
    for cluster, arns in by_cluster.items():
        for batch in ecs_api.chunks(arns, ecs_api.TASKS_PER_DESCRIBE):
            answer = ecs.describe_tasks(cluster=cluster, tasks=batch)
            for task in answer["tasks"]:
                service_key = owner.get(str(task["taskArn"]))
                if service_key is not None:
                    found[service_key].append(dict(task))
    return found


def _sidecar_digest(task: dict[str, Any], container: str) -> str | None:
    for c in task.get("containers", []):
        if c.get("name") == container:
            digest = c.get("imageDigest")
            return str(digest) if digest else None
    return None


def _task_id(task: dict[str, Any]) -> str:
    return str(task.get("taskArn", "?")).rsplit("/", 1)[-1]


def _short(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest[:12]


# --- explaining failures ------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureReport:
    """ECS's own words about a failed deployment."""

    events: tuple[str, ...] = ()
    stopped_reasons: tuple[str, ...] = ()
    rolled_back: bool = False
    # The service deployment's status and reason (ROLLBACK_SUCCESSFUL, ...), when known.
    deployment_status: str | None = None
    deployment_status_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "events": list(self.events),
            "stopped_reasons": list(self.stopped_reasons),
            "rolled_back": self.rolled_back,
            "deployment_status": self.deployment_status,
            "deployment_status_reason": self.deployment_status_reason,
        }


def explain_failure(
    ecs: ECSClient,
    key: str,
    deployment_id: str,
    service: dict[str, Any] | None,
    service_deployment_arn: str | None,
) -> FailureReport:
    """Events since the deployment began, why its tasks stopped, and whether ECS rolled back."""
    events = _events(service, deployment_id)
    stopped = _stopped_reasons(ecs, key, deployment_id)
    status, status_reason, rolled_back = None, None, False
    if service_deployment_arn:
        found = ecs_api.describe_service_deployments(ecs, [service_deployment_arn])
        sd = found.get(service_deployment_arn)
        if sd is not None:
            status = str(sd.get("status", "")) or None
            status_reason = str(sd.get("statusReason", "")) or None
            rolled_back = "ROLLBACK" in (status or "") or bool(sd.get("rollback"))
    if not rolled_back and service is not None:
        rolled_back = _rollback_in_deployments(service)
    return FailureReport(events, stopped, rolled_back, status, status_reason)


def _events(service: dict[str, Any] | None, deployment_id: str) -> tuple[str, ...]:
    if service is None:
        return ()
    ours = ecs_api.deployment(service, deployment_id) or {}
    since = ours.get("createdAt")
    messages = []
    for event in service.get("events", []):  # newest first, as ECS lists them
        created = event.get("createdAt")
        if since is not None and created is not None and created < since:
            continue
        messages.append(str(event.get("message", "")))
        if len(messages) >= MAX_EVENTS:
            break
    return tuple(messages)


def _stopped_reasons(ecs: ECSClient, key: str, deployment_id: str) -> tuple[str, ...]:
    cluster, service = ecs_api.split_key(key)
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED")["taskArns"]
    if not arns:
        return ()
    answer = ecs.describe_tasks(cluster=cluster, tasks=list(arns[: ecs_api.TASKS_PER_DESCRIBE]))
    reasons: Counter[str] = Counter()
    for task in answer["tasks"]:
        if task.get("startedBy") not in (deployment_id, None):
            continue
        if task.get("stopCode") == "ServiceSchedulerInitiated":
            continue
        reason = str(task.get("stoppedReason", ""))
        details = [
            f"{c.get('name')}: {c.get('reason')}"
            for c in task.get("containers", [])
            if c.get("reason")
        ]
        if details and details[0] not in reason:
            reason += f" ({'; '.join(details)})"
        if reason:
            reasons[reason] += 1
    return tuple(
        f"{reason} (x{count})" if count > 1 else reason
        for reason, count in reasons.most_common(MAX_STOPPED_REASONS)
    )


def _rollback_in_deployments(service: dict[str, Any]) -> bool:
    current = ecs_api.primary(service) or {}
    return "rolling back" in str(current.get("rolloutStateReason", "")).lower()
