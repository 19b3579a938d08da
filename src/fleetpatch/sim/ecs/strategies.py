"""BLUE_GREEN, LINEAR and CANARY: deployments that run the green (target) revision next to the
blue one and move through ECS's lifecycle stages (ECS developer guide, "Amazon ECS blue/green
deployments", "linear deployments", "canary deployments"; API reference, ServiceDeployment).

A deployment is planned as a list of steps when it starts (`plan`), then each scheduler pass
(`reconcile`) runs as many steps as the moment allows:

    RECONCILE_SERVICE        hooks (only when more than one revision was ACTIVE)
    PRE_SCALE_UP             hooks
    SCALE_UP                 launch the full desired count of green tasks; wait until they run
    POST_SCALE_UP            hooks
    TEST_TRAFFIC_SHIFT       hooks, then test traffic 100% green
    POST_TEST_TRAFFIC_SHIFT  hooks
    PRODUCTION_TRAFFIC_SHIFT per shift: PRE_PRODUCTION_TRAFFIC_SHIFT hooks, shift, hooks;
                             LINEAR waits stepBakeTimeInMinutes between steps, CANARY waits
                             canaryBakeTimeInMinutes after the canary shift
    POST_PRODUCTION_TRAFFIC_SHIFT hooks
    BAKE_TIME                wait bakeTimeInMinutes with both revisions running
    CLEAN_UP                 stop every blue task; once they are gone: SUCCESSFUL

The blue tasks keep running until CLEAN_UP, so a rollback (circuit breaker on green tasks that
fail, StopServiceDeployment, a PAUSE hook answered or timed out with ROLLBACK) only moves traffic
back and stops the green tasks; it runs as a rolling rollback (rolling.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fleetpatch.sim.ecs import rolling
from fleetpatch.sim.ecs.models import (
    Deployment,
    EcsAccount,
    HookRun,
    Service,
    ServiceDeployment,
    StrategyStep,
)
from fleetpatch.sim.ecs.tasks import TaskRunner

# (account, service, failed deployment, reason, time): start a rollback.
RollbackFn = Callable[[EcsAccount, Service, Deployment, str, float], None]

HOOK_TIMEOUT_REASON = "The lifecycle hook timed out: rolling back."


def production_weights(config: dict[str, Any]) -> list[float]:
    """The production traffic percentages the green revision gets, shift after shift."""
    strategy = config.get("strategy")
    if strategy == "LINEAR":
        step = float(config["linearConfiguration"]["stepPercent"])
        weights: list[float] = []
        shifted = 0.0
        while shifted < 100.0:
            shifted = min(100.0, round(shifted + step, 1))
            weights.append(shifted)
        return weights
    if strategy == "CANARY":
        canary = float(config["canaryConfiguration"]["canaryPercent"])
        return [canary, 100.0] if canary < 100.0 else [100.0]
    return [100.0]


def _between_shifts_seconds(config: dict[str, Any]) -> float:
    if config.get("strategy") == "LINEAR":
        return 60.0 * int(config["linearConfiguration"]["stepBakeTimeInMinutes"])
    if config.get("strategy") == "CANARY":
        return 60.0 * int(config["canaryConfiguration"]["canaryBakeTimeInMinutes"])
    return 0.0


def plan(config: dict[str, Any], several_active_revisions: bool) -> list[StrategyStep]:
    """The steps of one deployment under `config` (a traffic-shifting strategy)."""
    steps: list[StrategyStep] = []
    if several_active_revisions:
        steps.append(StrategyStep("RECONCILE_SERVICE", "hook", hook_stage="RECONCILE_SERVICE"))
    steps += [
        StrategyStep("PRE_SCALE_UP", "hook", hook_stage="PRE_SCALE_UP"),
        StrategyStep("SCALE_UP", "scale_up"),
        StrategyStep("POST_SCALE_UP", "hook", hook_stage="POST_SCALE_UP"),
        StrategyStep("TEST_TRAFFIC_SHIFT", "hook", hook_stage="TEST_TRAFFIC_SHIFT"),
        StrategyStep("TEST_TRAFFIC_SHIFT", "shift_test", weight=100.0),
        StrategyStep("POST_TEST_TRAFFIC_SHIFT", "hook", hook_stage="POST_TEST_TRAFFIC_SHIFT"),
    ]
    weights = production_weights(config)
    pause = _between_shifts_seconds(config)
    stage = "PRODUCTION_TRAFFIC_SHIFT"
    for weight in weights:
        steps += [
            StrategyStep(stage, "hook", hook_stage="PRE_PRODUCTION_TRAFFIC_SHIFT"),
            StrategyStep(stage, "shift", weight=weight),
            StrategyStep(stage, "hook", hook_stage="PRODUCTION_TRAFFIC_SHIFT"),
        ]
        # "This bake time is not applied after reaching 100 percent traffic."
        if weight < 100.0 and pause > 0:
            steps.append(StrategyStep(stage, "wait", seconds=pause))
    bake = 60.0 * int(config.get("bakeTimeInMinutes") or 0)
    steps += [
        StrategyStep(
            "POST_PRODUCTION_TRAFFIC_SHIFT", "hook", hook_stage="POST_PRODUCTION_TRAFFIC_SHIFT"
        ),
        StrategyStep("BAKE_TIME", "wait", seconds=bake),
        StrategyStep("CLEAN_UP", "clean_up"),
    ]
    return steps


def reconcile(
    runner: TaskRunner, account: EcsAccount, service: Service, t: float, rollback: RollbackFn
) -> None:
    """One pass of the scheduler for a service whose PRIMARY deployment uses a traffic-shifting
    strategy (and is not a rollback)."""
    green = service.primary
    assert green is not None  # the engine dispatches here only with a primary
    sd = green.service_deployment
    green.desired_count = service.desired_count
    _scale_in(runner, account, service, green, t)
    if sd.status != "IN_PROGRESS" or green.rollout_state != "IN_PROGRESS":
        # Failed without rollback, or stopped: nothing more happens on its own.
        rolling.drop_emptied_deployments(service, t)
        return
    for d in service.deployments[1:]:
        # Old tasks that never became healthy serve nobody: they go at once.
        for task in list(d.tasks.values()):
            if task.is_starting:
                runner.stop_by_scheduler(account, service, task, t)
    while sd.step_index < len(sd.steps):
        step = sd.steps[sd.step_index]
        sd.lifecycle_stage = step.stage
        outcome = _run_step(runner, account, service, green, step, t)
        if outcome == "rollback":
            rollback(account, service, green, HOOK_TIMEOUT_REASON, t)
            return
        if outcome == "wait":
            break
        sd.step_index += 1
        sd.wait_until = None
        sd.updated_at = t
    if sd.step_index > _scale_up_index(sd):
        # Past SCALE_UP the green revision stays at full size (a stopped task is replaced).
        _keep_green_full(runner, account, service, green, t)
    rolling.drop_emptied_deployments(service, t)
    if sd.step_index == len(sd.steps):
        rolling.complete(runner, service, green, t)


def next_event_time(service: Service) -> float | None:
    """When a wait step ends or a PAUSE hook times out, if that is ahead."""
    primary = service.primary
    if primary is None or primary.is_rollback:
        return None
    sd = primary.service_deployment
    if sd.status != "IN_PROGRESS":
        return None
    times = [r.expires_at for r in sd.hook_runs if r.status == "AWAITING_ACTION"]
    if sd.wait_until is not None:
        times.append(sd.wait_until)
    ahead = [time for time in times if time > service.advanced_to]
    return min(ahead) if ahead else None


def answer_hook(sd: ServiceDeployment, hook_id: str, action: str) -> HookRun | None:
    """ContinueServiceDeployment: resolve a PAUSE hook awaiting action; None if there is none
    with that id awaiting action."""
    for run in sd.hook_runs:
        if run.hook_id == hook_id and run.status == "AWAITING_ACTION":
            run.status = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
            return run
    return None


# --- steps ------------------------------------------------------------------------------------


def _run_step(
    runner: TaskRunner,
    account: EcsAccount,
    service: Service,
    green: Deployment,
    step: StrategyStep,
    t: float,
) -> str:
    """Run one step at `t`: "done", "wait" (come back later) or "rollback"."""
    sd = green.service_deployment
    if step.action == "hook":
        return _run_hooks(runner, sd, step, t)
    if step.action == "scale_up":
        _keep_green_full(runner, account, service, green, t)
        running = sum(1 for task in green.tasks.values() if task.is_running)
        return "done" if running >= service.desired_count else "wait"
    if step.action == "shift_test":
        sd.test_weight = step.weight
        return "done"
    if step.action == "shift":
        sd.production_weight = step.weight
        return "done"
    if step.action == "wait":
        if step.seconds <= 0 or runner.instant:
            return "done"
        if sd.wait_until is None:
            sd.wait_until = t + step.seconds
        return "done" if t >= sd.wait_until else "wait"
    # clean_up: the blue revision scales down to 0 running tasks.
    for d in service.deployments[1:]:
        d.kept_until_clean_up = False
        d.desired_count = 0
        for task in list(d.tasks.values()):
            if not task.is_stopping:
                runner.stop_by_scheduler(account, service, task, t)
    return "wait" if any(d.tasks for d in service.deployments[1:]) else "done"


def _run_hooks(runner: TaskRunner, sd: ServiceDeployment, step: StrategyStep, t: float) -> str:
    """Start the hooks configured for the step's stage (once), then wait for PAUSE hooks.

    The simulator runs no Lambda: an AWS_LAMBDA hook succeeds as soon as it starts."""
    hooks = [
        hook
        for hook in sd.deployment_configuration.get("lifecycleHooks") or []
        if step.hook_stage in hook.get("lifecycleStages", [])
    ]
    if not hooks:
        return "done"
    runs = [run for run in sd.hook_runs if run.step_index == sd.step_index]
    if not runs:
        for hook in hooks:
            timeout = hook["timeoutConfiguration"]
            pause = hook["targetType"] == "PAUSE" and not runner.instant
            run = HookRun(
                hook_id=runner.ids.uuid(),
                step_index=sd.step_index,
                target_type=hook["targetType"],
                target_arn=hook.get("hookTargetArn") if hook["targetType"] != "PAUSE" else None,
                status="AWAITING_ACTION" if pause else "SUCCEEDED",
                expires_at=t + 60.0 * int(timeout["timeoutInMinutes"]),
                timeout_action=timeout["action"],
            )
            sd.hook_runs.append(run)
            runs.append(run)
        sd.updated_at = t
    for run in runs:
        if run.status == "AWAITING_ACTION" and t >= run.expires_at:
            run.status = "TIMED_OUT"
            sd.updated_at = t
            if run.timeout_action == "ROLLBACK":
                return "rollback"
    return "wait" if any(run.status == "AWAITING_ACTION" for run in runs) else "done"


def _scale_up_index(sd: ServiceDeployment) -> int:
    return next(i for i, step in enumerate(sd.steps) if step.action == "scale_up")


def _keep_green_full(
    runner: TaskRunner, account: EcsAccount, service: Service, green: Deployment, t: float
) -> None:
    """The green revision runs the full desired count (replacing tasks that stopped or failed),
    beside the blue one: no maximumPercent limit applies to a blue/green scale-up."""
    if not green.launching or t < green.next_launch_at:
        return
    live = sum(1 for task in green.tasks.values() if not task.is_stopping)
    count = service.desired_count - live
    if count <= 0:
        return
    started = [runner.launch_task(account, service, green, t) for _ in range(count)]
    ids = " ".join(f"(task {task.id})" for task in started)
    runner.event(service, t, f"(service {service.name}) has started {count} tasks: {ids}.")


def _scale_in(
    runner: TaskRunner, account: EcsAccount, service: Service, green: Deployment, t: float
) -> None:
    live = [task for task in green.tasks.values() if not task.is_stopping]
    surplus = len(live) - service.desired_count
    if surplus <= 0:
        return
    live.sort(key=lambda task: (task.is_running, task.created_at))
    for task in live[:surplus]:
        runner.stop_by_scheduler(account, service, task, t)
