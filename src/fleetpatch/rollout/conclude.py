"""Concluding a service's part in a wave: verify its tasks, or record its failure in ECS's
own words. Both read AWS (DescribeTasks, the service deployment, stopped tasks) and write the
record; the executor calls them for VERIFY and DEPLOY_FAILED decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.decide import Decision
from fleetpatch.rollout.observe import Observation
from fleetpatch.rollout.plan import ServiceStep
from fleetpatch.rollout.record import Recorder
from fleetpatch.rollout.verify import Check, FailureReport, explain_failure, verify

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

NO_TASKS = "no tasks run (desired count 0): the next task starts on the target"


def verify_and_record(
    ecs: ECSClient,
    record: Recorder,
    items: Sequence[tuple[ServiceStep, Decision]],
    seen: Observation,
    wave: int,
    sd_arns: Mapping[str, str],
) -> None:
    """Verify every service of `items` in one batch; record each verdict."""
    if not items:
        return
    checks = [
        Check(
            key=step.key,
            container=step.container,
            digest=record.target,
            desired_count=step.desired_count,
            revision_arn=ecs_api.current_revision_arn(seen.services[step.key].service or {}),
            others=step.others,
        )
        for step, _ in items
    ]
    verdicts = verify(ecs, checks)
    for step, decision in items:
        verdict = verdicts[step.key]
        if verdict.ok:
            note = decision.reason if decision.deployment_id is None else ""
            if verdict.tasks == 0:
                note = NO_TASKS  # nothing was verified: say so, never "verified on 0 tasks"
            record.verified(step, verdict.tasks, decision.deployment_id, wave, note)
            continue
        service = seen.services[step.key].service
        sd_arn = sd_arns.get(step.key) or service_deployment_arn(service)
        reason = f"verification failed: {verdict.reason}"
        record_failure(ecs, record, step, reason, decision.deployment_id, service, wave, sd_arn)


def record_failure(
    ecs: ECSClient,
    record: Recorder,
    step: ServiceStep,
    reason: str,
    deployment_id: str | None,
    service: Mapping[str, object] | None,
    wave: int,
    sd_arn: str | None,
) -> None:
    """Record a failure in ECS's own words: why the deployment failed, that ECS rolled it
    back, why its tasks stopped."""
    report = FailureReport()
    if deployment_id:
        report = explain_failure(ecs, step.key, deployment_id, dict(service or {}), sd_arn)
    if report.rolled_back:
        why = report.deployment_status_reason or "the deployment circuit breaker tripped"
        reason = f"deployment {deployment_id} failed: {why}; ECS rolled the service back"
    if report.stopped_reasons:
        reason += f"; tasks stopped: {report.stopped_reasons[0]}"
    record.failed(step, reason, deployment_id, {"wave": wave, **report.to_json()})


def service_deployment_arn(service: Mapping[str, object] | None) -> str | None:
    arn = (service or {}).get("currentServiceDeployment")
    return str(arn) if arn else None
