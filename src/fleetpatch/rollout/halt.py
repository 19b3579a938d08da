"""Ending a wave early: services whose wait is over, and the halt that rolls the wave back.

time_out_late(...)   fail the services past their deadline (their strategy's, or the
                     base timeout); a deployment still in flight is remembered
halt_wave(...)       the wave failed beyond its budget: journal `halted` (the intent:
                     which deployments it stops), then StopServiceDeployment(ROLLBACK)
                     for each, each journaled with ECS's answer
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetpatch.journal import JournalStore
from fleetpatch.rollout.act import stop_deployment
from fleetpatch.rollout.observe import journal_facts, unconfirmed_deployments
from fleetpatch.rollout.record import Recorder
from fleetpatch.rollout.waves import WaveProgress

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


def halt_wave(
    ecs: ECSClient,
    journal: JournalStore,
    record: Recorder,
    environment: str,
    target: str,
    progress: WaveProgress,
    reason: str,
    sd_arns: dict[str, str],
) -> None:
    """Stop the run; roll back the wave's deployments still in flight (StopServiceDeployment
    ROLLBACK), those still awaited and those fleetpatch stopped waiting for. `sd_arns`:
    service -> service deployment ARN known so far (updated with those found here)."""
    facts = journal_facts(journal, environment, target)
    in_flight = {k: facts.started[k] for k in progress.open if k in facts.started}
    in_flight.update(progress.timed_out)
    steps = {s.key: s for s in progress.wave.services}
    # Starts not confirmed yet (an UpdateService answer lost this pass): their deployment,
    # if ECS created one after the intent, is journaled as started and stopped too.
    unconfirmed = {
        k: facts.requested[k] for k in progress.open if k in facts.requested and k not in in_flight
    }
    containers = {k: steps[k].container for k in unconfirmed}
    found = unconfirmed_deployments(ecs, unconfirmed, containers)
    for key, (deployment_id, sd_arn) in found.items():
        details = {"service_deployment_arn": sd_arn} if sd_arn else {}
        if sd_arn:
            sd_arns[key] = sd_arn
        record.started(steps[key], progress.wave.index, deployment_id, details, adopted=True)
        in_flight[key] = deployment_id
    record.halted(reason, progress.wave.index, in_flight)
    for key, deployment_id in sorted(in_flight.items()):
        stopped = stop_deployment(ecs, key, deployment_id, sd_arns.get(key))
        concluded = key not in progress.open
        record.rolled_back(steps[key], progress.wave.index, stopped, concluded)
        progress.open.pop(key, None)


def time_out_late(
    journal: JournalStore,
    record: Recorder,
    environment: str,
    target: str,
    progress: WaveProgress,
    *,
    now: float,
    timeout: float,
) -> None:
    """Fail the services whose wait is over (their strategy's time, not a fixed one; never
    observed, e.g. every read throttled: the base `timeout` still ends the wait)."""
    base = progress.started_at + timeout
    late = [k for k in progress.open if now >= progress.deadlines.get(k, base)]
    if not late:
        return
    facts = journal_facts(journal, environment, target)
    for key in late:
        step = progress.open[key]
        minutes = round((progress.deadlines.get(key, base) - progress.started_at) / 60)
        deployment_id = facts.started.get(key)
        if deployment_id is None:
            last = progress.unconfirmed.get(key, "no answer")
            reason = f"could not start the deployment within {minutes:g} minutes: {last}"
        else:
            reason = (
                f"deployment {deployment_id} did not finish within {minutes:g} minutes, "
                "so fleetpatch stopped waiting (ECS may still finish it: see `aws ecs "
                "describe-service-deployments`; once it has ended, run again with "
                "--retry-failed)"
            )
        record.failed(step, reason, deployment_id, {"wave": progress.wave.index})
        if deployment_id:
            progress.timed_out[key] = deployment_id  # still in flight: a halt stops it
        del progress.open[key]
