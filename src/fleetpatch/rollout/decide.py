"""Decide: what each service of a wave needs next, from what this pass observed. Pure.

    decision = decide(step, state, facts, target)      # observe.ServiceState, JournalFacts

| what the pass observes | decision |
|---|---|
| the service is gone | GONE (fails it) |
| fleetpatch's journaled deployment, still going | WAIT |
| ... COMPLETED and PRIMARY | VERIFY its tasks |
| ... FAILED, replaced (a rollback, someone's deploy) or gone | DEPLOY_FAILED |
| its latest record for the target is `failed` (no --retry-failed) | FAILED_EARLIER |
| a deployment ECS created in the window after fleetpatch's journaled intent | ADOPT (journal it) |
| on the target, settled, journaled `verified` | SKIP |
| on the target, settled, not journaled `verified` | VERIFY (someone else's deployment, or ours |
| | from before the journal knew) |
| someone else's deployment in progress | SKIP for now (never superseded) |
| anything else | START one deployment |

Each row is one small function of the observed state, so a rerun after a crash or a lost
answer decides the same thing, and no service gets two deployments for one target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fleetpatch.core.strategies import strategy_wait_minutes
from fleetpatch.rollout.observe import JournalFacts, ServiceState, requested_by_us
from fleetpatch.rollout.plan import ServiceStep


class Action(StrEnum):
    START = "start"
    WAIT = "wait"
    ADOPT = "adopt"  # fleetpatch's own deployment, not journaled as started yet
    VERIFY = "verify"
    DEPLOY_FAILED = "deploy_failed"
    SKIP = "skip"
    FAILED_EARLIER = "failed_earlier"
    GONE = "gone"


@dataclass(frozen=True)
class Decision:
    action: Action
    deployment_id: str | None = None
    reason: str = ""

    @property
    def concludes(self) -> bool:
        """Whether this decision ends the service's part in the wave (after acting on it)."""
        return self.action not in (Action.START, Action.WAIT, Action.ADOPT)


FAILED_EARLIER_REASON = (
    "its deployment to this target failed in an earlier run (ECS events in "
    "`fleetpatch history`): fix the cause, then run again with --retry-failed"
)


def decide(
    step: ServiceStep,
    state: ServiceState,
    facts: JournalFacts,
    target: str,
    *,
    retry_failed: bool = False,
    planned_done: bool = False,
) -> Decision:
    """What one service still needs. `planned_done`: the plan found it on the target (its
    tasks all run the target), so it is verified, never deployed."""
    if state.service is None:
        return Decision(Action.GONE, reason="the service no longer exists")
    journaled = facts.started.get(step.key)
    if journaled is not None:
        return follow(journaled, state)
    if step.key in facts.failed and not retry_failed:
        return Decision(Action.FAILED_EARLIER, reason=FAILED_EARLIER_REASON)
    ours = ours_unjournaled(state, facts.requested.get(step.key))
    if ours is not None:
        return Decision(Action.ADOPT, str(ours["id"]), "created after fleetpatch's request")
    if planned_done or on_target(state, target):
        if step.key in facts.verified:
            return Decision(Action.SKIP, reason="already verified on the target")
        return Decision(Action.VERIFY, reason="already on the target")
    busy = someone_elses_deployment(state)
    if busy is not None:
        return Decision(Action.SKIP, reason=busy)
    return Decision(Action.START)


def follow(deployment_id: str, state: ServiceState) -> Decision:
    """A deployment fleetpatch started: still going, completed, or failed? (ECS lists a
    service's PRIMARY deployment until the next one: gone means replaced.)"""
    ours = state.deployment(deployment_id)
    if ours is None:
        return Decision(Action.DEPLOY_FAILED, deployment_id, replaced(deployment_id, state))
    if ours.get("rolloutState") == "FAILED":
        reason = ours.get("rolloutStateReason") or "the deployment failed"
        return Decision(Action.DEPLOY_FAILED, deployment_id, str(reason))
    if ours.get("status") != "PRIMARY":
        return Decision(Action.DEPLOY_FAILED, deployment_id, replaced(deployment_id, state))
    sd = state.service_deployment
    if sd is not None:
        # Native strategies: the service deployment's status is the result.
        return _by_service_deployment(deployment_id, sd)
    if ours.get("rolloutState") == "COMPLETED":
        return Decision(Action.VERIFY, deployment_id)
    return Decision(Action.WAIT, deployment_id)


ENDED_BADLY = frozenset(
    {"STOPPED", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"}
    | {"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}
)


def _by_service_deployment(deployment_id: str, sd: dict[str, Any]) -> Decision:
    status = str(sd.get("status") or "")
    if status == "SUCCESSFUL":
        return Decision(Action.VERIFY, deployment_id)
    if status in ENDED_BADLY:
        why = sd.get("statusReason") or f"the service deployment is {status}"
        return Decision(Action.DEPLOY_FAILED, deployment_id, f"{why} ({status})")
    return Decision(Action.WAIT, deployment_id)


def on_target(state: ServiceState, target: str) -> bool:
    """The current revision resolved the target and the service runs only that deployment."""
    primary = state.primary or {}
    settled = primary.get("rolloutState") == "COMPLETED"
    only = len((state.service or {}).get("deployments", [])) == 1
    return state.revision_digest == target and settled and only


def ours_unjournaled(state: ServiceState, intent: datetime | None) -> dict[str, Any] | None:
    """The first deployment ECS created in the window after fleetpatch's journaled intent (the
    run died before it journaled the answer); later ones in the window are ECS's own (a
    rollback of ours)."""
    if intent is None:
        return None
    deployments = (state.service or {}).get("deployments", [])
    in_window = [d for d in deployments if requested_by_us(d, intent)]
    if not in_window:
        return None
    return dict(min(in_window, key=lambda d: d["createdAt"]))


def someone_elses_deployment(state: ServiceState) -> str | None:
    """Why the service can't be deployed now: a deployment fleetpatch did not start is in
    progress (superseding it would cancel someone's release)."""
    deployments = (state.service or {}).get("deployments", [])
    busy = [d for d in deployments if d.get("rolloutState") == "IN_PROGRESS"]
    if not busy:
        return None
    primary = state.primary
    first = primary if primary is not None and primary in busy else busy[0]
    since = first.get("createdAt")
    when = f" since {since:%Y-%m-%d %H:%M} UTC" if isinstance(since, datetime) else ""
    return (
        f"deployment {first.get('id', '?')} in progress{when}, not started by fleetpatch; "
        "run again when it finishes"
    )


def replaced(deployment_id: str, state: ServiceState) -> str:
    current = state.primary
    if current is None:
        return f"deployment {deployment_id} is no longer active"
    why = current.get("rolloutStateReason") or ""
    reason = f"deployment {deployment_id} was replaced by {current.get('id')}"
    return reason + (f": {why}" if why else "")


def over_budget(wave: int, failed: list[str], budget: int) -> str | None:
    """Why the rollout must halt after this wave, or None."""
    if len(failed) <= budget:
        return None
    return (
        f"wave {wave}: {len(failed)} service(s) failed, more than the failure "
        f"budget of {budget}: {', '.join(failed)}"
    )


def tag_moved(
    repository: str, tag: str | None, label: str, target: str, now: set[str]
) -> str | None:
    """Moving-tag mode: why the tag can't deliver the target any more, or None."""
    if tag is None:
        return (
            f"moving-tag mode needs the target to be what a tag points to; "
            f"{label} is not: use --pin"
        )
    if now == {target}:
        return None
    found = ", ".join(sorted(now)) or "nothing"
    return (
        f"the tag moved since the plan: {repository}:{tag} now points "
        f"to {found}, not {target}; run the command again to plan for the new digest"
    )


def strategy_timeout(configuration: dict[str, Any] | None, base_minutes: float) -> float:
    """Seconds a deployment of this service may take: the base time plus what its strategy
    spends waiting on purpose (core/strategies.py). A one-hour bake must not fail at a fixed
    30 minutes."""
    return (float(base_minutes) + strategy_wait_minutes(configuration)) * 60.0


def stage_view(
    service_deployment: dict[str, Any], baking_since: datetime | None, aws_now: datetime | None
) -> dict[str, Any]:
    """What a person watching needs of a native-strategy deployment: its stage, the bake time
    left, and a PAUSE hook awaiting action with how to continue it. Pure."""
    stage = str(service_deployment.get("lifecycleStage") or "")
    view: dict[str, Any] = {"status": service_deployment.get("status")}
    if stage:  # ROLLING deployments have no lifecycleStage
        view["stage"] = stage
    bake = (service_deployment.get("deploymentConfiguration") or {}).get("bakeTimeInMinutes")
    if stage == "BAKE_TIME" and bake is not None and baking_since and aws_now:
        passed = (aws_now - baking_since).total_seconds() / 60
        view["bake_left_minutes"] = max(0, round(float(bake) - passed))
    for hook in service_deployment.get("lifecycleHookDetails") or []:
        if hook.get("status") == "AWAITING_ACTION":
            arn = service_deployment.get("serviceDeploymentArn", "")
            view["awaiting_hook"] = {
                "hook_id": hook.get("hookId"),
                "continue": (
                    f"aws ecs continue-service-deployment --service-deployment-arn {arn} "
                    f"--hook-id {hook.get('hookId')} --action CONTINUE"
                ),
            }
    return view
