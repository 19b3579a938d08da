"""Observe: what the rollout's next pass decides from, read fresh every pass.

    facts = journal_facts(journal, "dev", target)          # the journal, one read
    states = observe_services(ecs, keys, facts)            # ECS, in batches

Nothing here is remembered between passes (level-triggered): a pass after a crash, a retry or
a lost answer reads the same world and so decides the same thing.

Which deployments are fleetpatch's. A deployment is fleetpatch's when the journal says it
started it (`deployment_started` with ECS's id), or when the journal holds fleetpatch's intent
(`deployment_requested`, written just before UpdateService) and ECS created the deployment in
the window that followed: a run killed between UpdateService and its `deployment_started`
leaves exactly that. Anything else on the service is someone else's deployment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.journal import JournalStore, failed_services, started_deployments, verified_services
from fleetpatch.journal.queries import requested_deployments
from fleetpatch.rollout import ecs as ecs_api

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

# UpdateService answers within seconds; its retries (connect and read timeouts) within a few
# minutes. A deployment ECS created later than this after the intent is not the one asked for.
INTENT_WINDOW = timedelta(minutes=10)
# An intent stamped by the local clock (no Date header seen) may run ahead of AWS's by this
# much and a deployment still count as ours.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class JournalFacts:
    """What the journal says about each service and the target."""

    verified: frozenset[str] = frozenset()
    failed: frozenset[str] = frozenset()
    # service -> the ECS deployment id fleetpatch started to the target (not yet concluded)
    started: Mapping[str, str] = field(default_factory=dict)
    # service -> when fleetpatch journaled its intent, with no answer journaled after it
    requested: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceState:
    """One service as ECS answered this pass."""

    key: str
    # The DescribeServices answer; None when the service is missing or INACTIVE.
    service: dict[str, Any] | None
    # What the service's current revision resolved the sidecar to (None: no revisions read).
    revision_digest: str | None = None
    # Native strategies: DescribeServiceDeployments' answer for its current deployment.
    service_deployment: dict[str, Any] | None = None

    @property
    def primary(self) -> dict[str, Any] | None:
        return ecs_api.primary(self.service or {})

    def deployment(self, deployment_id: str) -> dict[str, Any] | None:
        return ecs_api.deployment(self.service or {}, deployment_id)


def journal_facts(journal: JournalStore, environment: str, target: str) -> JournalFacts:
    entries = journal.entries(environment=environment)
    requested = {
        # AWS's own clock needs no allowance; the local clock may run ahead of AWS's.
        service: moment if from_aws else moment - CLOCK_SKEW
        for service, (moment, from_aws) in requested_deployments(
            entries, environment, target
        ).items()
    }
    return JournalFacts(
        verified=frozenset(verified_services(entries, environment, target)),
        failed=frozenset(failed_services(entries, environment, target)),
        started=started_deployments(entries, environment, target),
        requested=requested,
    )


@dataclass(frozen=True)
class Observation:
    services: dict[str, ServiceState]
    # AWS's clock when ECS answered (its Date header): intents are journaled in it.
    aws_now: datetime | None = None


def observe_services(
    ecs: ECSClient,
    keys: Iterable[str],
    containers: Mapping[str, str],
    *,
    skip_revisions: Iterable[str] = (),
) -> Observation:
    """DescribeServices (10 a call), then DescribeServiceRevisions (20 a call) for the current
    revision of each service but those in `skip_revisions` (services whose journaled deployment
    is followed by its own state: waiting costs no revision reads). `containers` names each
    service's sidecar container."""
    described, aws_now = ecs_api.describe_services_at(ecs, keys)
    skipped = set(skip_revisions)
    arns = {
        key: arn
        for key, service in described.items()
        if service and key not in skipped and (arn := ecs_api.current_revision_arn(service))
    }
    revisions = ecs_api.describe_revisions(ecs, arns.values()) if arns else {}
    states = {
        key: ServiceState(
            key,
            service,
            ecs_api.revision_digest(revisions.get(arns.get(key, "")), containers[key]),
        )
        for key, service in described.items()
    }
    return Observation(states, aws_now)


def requested_by_us(deployment: Mapping[str, Any], intent: datetime | None) -> bool:
    """Pure: was this deployment created in the window after fleetpatch's journaled intent?"""
    if intent is None:
        return False
    created = deployment.get("createdAt")
    if not isinstance(created, datetime):
        return False  # no creation time: it can't be proven to be ours
    created = _utc(created)
    intent = _utc(intent)
    return intent <= created <= intent + INTENT_WINDOW


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def observe_stages(
    ecs: ECSClient, seen: Observation, keys: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """key -> the DescribeServiceDeployments answer (20 a call) of each service's current
    deployment: its `status` is the deployment's result for every strategy (a blue/green
    PRIMARY stays IN_PROGRESS in deployments[] through its bake), and the stage and bake of
    BLUE_GREEN, LINEAR and CANARY are only there. A throttled read is no news: the next pass
    reads it again (and a service ECS gives no service deployment is followed by
    deployments[])."""
    arns: dict[str, str] = {}
    for key in keys:
        service = seen.services[key].service or {}
        arn = service.get("currentServiceDeployment")
        if arn:
            arns[key] = str(arn)
    if not arns:
        return {}
    try:
        found = ecs_api.describe_service_deployments(ecs, arns.values())
    except (ClientError, BotoCoreError) as exc:
        if ecs_api.is_transient(exc):
            return {}
        raise
    return {key: found[arn] for key, arn in arns.items() if arn in found}


def unconfirmed_deployments(
    ecs: ECSClient,
    requested: Mapping[str, datetime],
    containers: Mapping[str, str],
) -> dict[str, tuple[str, str | None]]:
    """service -> (deployment id, its service deployment ARN if ECS names it) of the deployment
    ECS created in the window after fleetpatch's journaled intent (`requested`: services whose
    start is unconfirmed), still in progress: what a halt must stop too. DescribeServices only
    (10 a call); a throttled or failed read finds nothing."""
    if not requested:
        return {}
    try:
        seen = observe_services(ecs, requested, containers, skip_revisions=requested)
    except (ClientError, BotoCoreError) as exc:
        if ecs_api.is_transient(exc):
            return {}
        raise
    found: dict[str, tuple[str, str | None]] = {}
    for key, intent in requested.items():
        state = seen.services.get(key)
        service = (state.service if state else None) or {}
        ours = [d for d in service.get("deployments", []) if requested_by_us(d, intent)]
        if not ours:
            continue
        first = min(ours, key=lambda d: d["createdAt"])
        if first.get("rolloutState") != "IN_PROGRESS":
            continue
        primary = ecs_api.primary(service) or {}
        arn = service.get("currentServiceDeployment") if primary.get("id") == first["id"] else None
        found[key] = (str(first["id"]), str(arn) if arn else None)
    return found
