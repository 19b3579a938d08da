"""ECS's native deployment strategies, as numbers fleetpatch plans and waits with. Pure.

    strategy_bake_minutes(config)   # 60.0 for a one-hour bake: the plan's estimate
    strategy_wait_minutes(config)   # bakes + hook timeouts: how long a wait may last

ROLLING waits on nothing but its tasks; BLUE_GREEN, LINEAR and CANARY bake
(`bakeTimeInMinutes`), LINEAR bakes after each step (`ceil(100 / stepPercent)` steps of
`stepBakeTimeInMinutes`, defaults 10 % and 6 min), CANARY after its canary
(`canaryBakeTimeInMinutes`, default 10), and a lifecycle hook may wait up to its timeout
(`timeoutConfiguration.timeoutInMinutes`, default 1440).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def strategy_wait_minutes(configuration: Mapping[str, Any] | None) -> float:
    """Minutes a deployment with this configuration may wait on purpose, at most: its bakes
    and every lifecycle hook's timeout (how long fleetpatch keeps waiting)."""
    minutes = strategy_bake_minutes(configuration)
    for hook in (configuration or {}).get("lifecycleHooks") or []:
        timeout = hook.get("timeoutConfiguration") or {}
        minutes += float(timeout.get("timeoutInMinutes", 1440) or 0)
    return minutes


def strategy_bake_minutes(configuration: Mapping[str, Any] | None) -> float:
    """Minutes a deployment with this configuration bakes, at least (the plan's estimate)."""
    configuration = configuration or {}
    strategy = configuration.get("strategy") or "ROLLING"
    minutes = 0.0
    if strategy != "ROLLING":
        minutes += float(configuration.get("bakeTimeInMinutes") or 0)
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent") or 10.0)
        # "This bake time is not applied after reaching 100 percent traffic" (ECS API
        # reference, LinearConfiguration): one wait between each two steps.
        waits = math.ceil(round(100.0 / step, 9)) - 1
        minutes += waits * float(linear.get("stepBakeTimeInMinutes", 6) or 0)
    if strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        minutes += float(canary.get("canaryBakeTimeInMinutes", 10) or 0)
    return minutes
