"""CreateService / UpdateService's deploymentConfiguration: merged, defaulted and checked as ECS
checks it (ECS API reference: DeploymentConfiguration, LinearConfiguration, CanaryConfiguration,
DeploymentLifecycleHook; ranges and defaults from there and from botocore's model).
"""

from __future__ import annotations

import copy
from typing import Any, get_args

from fleetpatch.sim.ecs.lookups import invalid
from fleetpatch.sim.scenario import HookStage

STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
# Strategies that shift traffic from a blue to a green revision through lifecycle stages.
TRAFFIC_SHIFT_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
# ECS's lifecycle stages, in order: one list, shared with the scenario format.
HOOK_STAGES: tuple[str, ...] = get_args(HookStage)
# "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages."
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
HOOK_ACTIONS = ("CONTINUE", "ROLLBACK")
MAX_BAKE_MINUTES = 1440
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440
MAX_HOOK_TIMEOUT_MINUTES = 20160
LINEAR_DEFAULTS: dict[str, Any] = {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}
CANARY_DEFAULTS: dict[str, Any] = {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10}

DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    # No CloudWatch alarms watch a deployment unless asked.
    "alarms": {"alarmNames": [], "rollback": False, "enable": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def deployment_configuration(
    current: dict[str, Any], update: dict[str, Any] | None
) -> dict[str, Any]:
    """The current configuration with the members the request gives replaced, defaults filled
    in for the strategy's own configuration, and everything checked."""
    update = update or {}
    merged = copy.deepcopy(current)
    for key, value in update.items():
        merged[key] = copy.deepcopy(value)
    _check_percentages(merged)
    # An absent strategy is ROLLING (and is left absent, as the configuration was given).
    strategy = merged.get("strategy") or "ROLLING"
    if strategy not in STRATEGIES:
        raise invalid(
            f"Invalid deployment strategy '{strategy}'. Valid values are "
            "ROLLING, BLUE_GREEN, LINEAR, CANARY."
        )
    for member, owner in (("linearConfiguration", "LINEAR"), ("canaryConfiguration", "CANARY")):
        if strategy == owner:
            continue
        if member in update:
            raise invalid(f"{member} is only valid when the deployment strategy is {owner}.")
        # Left over from an earlier strategy: it no longer applies.
        merged.pop(member, None)
    if strategy == "BLUE_GREEN" and merged.get("bakeTimeInMinutes") is None:
        raise invalid("bakeTimeInMinutes must be provided for the BLUE_GREEN deployment strategy.")
    if merged.get("bakeTimeInMinutes") is not None:
        _check_minutes(merged["bakeTimeInMinutes"], "bakeTimeInMinutes")
    if strategy == "LINEAR":
        merged["linearConfiguration"] = _linear(merged.get("linearConfiguration"))
    if strategy == "CANARY":
        merged["canaryConfiguration"] = _canary(merged.get("canaryConfiguration"))
    if merged.get("lifecycleHooks") is not None:
        merged["lifecycleHooks"] = [_hook(hook) for hook in merged["lifecycleHooks"]]
    return merged


def _check_percentages(config: dict[str, Any]) -> None:
    maximum = config.get("maximumPercent", 200)
    minimum = config.get("minimumHealthyPercent", 100)
    if not isinstance(maximum, int) or not isinstance(minimum, int) or minimum < 0 or maximum < 1:
        raise invalid("Invalid deploymentConfiguration percentages.")
    if minimum > maximum:
        raise invalid("minimumHealthyPercent cannot be greater than maximumPercent.")


def _check_minutes(value: Any, name: str, low: int = 0, high: int = MAX_BAKE_MINUTES) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"{name} must be an integer between {low} and {high}.")
    return value


def _check_percent(value: Any, name: str, low: float) -> float:
    """A percentage in [low, 100] that is a multiple of 0.1 (the API reference's rule)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(f"{name} must be a number between {low} and 100.0.")
    percent = float(value)
    tenths = round(percent * 10)
    if not low <= percent <= 100.0 or abs(percent * 10 - tenths) > 1e-6:
        raise invalid(f"{name} must be a multiple of 0.1 between {low} and 100.0.")
    return tenths / 10


def _linear(given: Any) -> dict[str, Any]:
    config = {**LINEAR_DEFAULTS, **(given or {})}
    return {
        "stepPercent": _check_percent(config["stepPercent"], "stepPercent", 3.0),
        "stepBakeTimeInMinutes": _check_minutes(
            config["stepBakeTimeInMinutes"], "stepBakeTimeInMinutes"
        ),
    }


def _canary(given: Any) -> dict[str, Any]:
    config = {**CANARY_DEFAULTS, **(given or {})}
    return {
        "canaryPercent": _check_percent(config["canaryPercent"], "canaryPercent", 0.1),
        "canaryBakeTimeInMinutes": _check_minutes(
            config["canaryBakeTimeInMinutes"], "canaryBakeTimeInMinutes"
        ),
    }


def _hook(given: dict[str, Any]) -> dict[str, Any]:
    """A DeploymentLifecycleHook with its documented defaults: targetType AWS_LAMBDA, timeout
    1440 minutes, timeout action ROLLBACK."""
    hook = copy.deepcopy(given)
    target_type = hook.setdefault("targetType", "AWS_LAMBDA")
    if target_type not in ("AWS_LAMBDA", "PAUSE"):
        raise invalid(
            f"Invalid lifecycle hook targetType '{target_type}'. "
            "Valid values are AWS_LAMBDA, PAUSE."
        )
    if target_type == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
        raise invalid("hookTargetArn must be provided for an AWS_LAMBDA lifecycle hook.")
    stages = hook.get("lifecycleStages")
    if not stages:
        raise invalid("lifecycleStages must be provided for a lifecycle hook.")
    for stage in stages:
        if stage not in HOOK_STAGES:
            raise invalid(
                f"Invalid lifecycle stage '{stage}'. Valid values are {', '.join(HOOK_STAGES)}."
            )
        if target_type == "PAUSE" and stage in NO_PAUSE_STAGES:
            raise invalid(f"PAUSE lifecycle hooks cannot be configured at the {stage} stage.")
    timeout = dict(hook.get("timeoutConfiguration") or {})
    timeout["timeoutInMinutes"] = _check_minutes(
        timeout.get("timeoutInMinutes", DEFAULT_HOOK_TIMEOUT_MINUTES),
        "timeoutInMinutes",
        low=1,
        high=MAX_HOOK_TIMEOUT_MINUTES,
    )
    action = timeout.setdefault("action", "ROLLBACK")
    if action not in HOOK_ACTIONS:
        raise invalid(f"Invalid lifecycle hook timeout action '{action}'.")
    hook["timeoutConfiguration"] = timeout
    return hook


PLACEMENT_STRATEGY_FIELDS = {"binpack": ("cpu", "memory"), "spread": None, "random": None}


def check_placement(p: dict[str, Any], launch_type: str) -> None:
    """CreateService / UpdateService's launch type, capacity providers and placement, as the
    API reference states them: a capacityProviderStrategy and a launchType exclude each
    other; a placement strategy is random, spread (on a field) or binpack (on cpu or memory);
    Fargate places tasks itself. (The wording of the last two refusals is the simulator's.)"""
    if p.get("launchType") and p.get("capacityProviderStrategy"):
        raise invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. "
            "Remove one and try again."
        )
    strategies = p.get("placementStrategy") or []
    if strategies and launch_type == "FARGATE":
        raise invalid("Placement strategies are not supported with FARGATE launch type.")
    for strategy in strategies:
        kind = strategy.get("type")
        if kind not in PLACEMENT_STRATEGY_FIELDS:
            raise invalid(
                f"Invalid placement strategy type '{kind}'. Valid values are random, spread, "
                "binpack."
            )
        fields = PLACEMENT_STRATEGY_FIELDS[kind]
        if kind != "random" and not strategy.get("field"):
            raise invalid(f"A field must be specified for the {kind} placement strategy.")
        if fields is not None and strategy.get("field") not in fields:
            raise invalid(
                f"Invalid field '{strategy.get('field')}' for the binpack placement strategy. "
                "Valid values are cpu, memory."
            )
