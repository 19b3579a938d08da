"""`[automation]` and `auto = true`: patches that start themselves (fleetpatch.events).

    [automation]
    wait_for_scan = true      # start after the pushed image's scan, not at the push

    [[environments]]
    name = "dev"
    auto = true               # a push of the moving tag starts a rollout here

An environment with `auto = true` whose rollouts need approval is not started: the push (or,
for one with `requires`, the hourly schedule once the proof is met) asks for approval instead,
posted to its Slack channel. docs/automation.md.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Strict

from fleetpatch.config.values import Expect, StrictModel

Flag = Annotated[bool, Strict(), Expect("true or false")]


class Automation(StrictModel):
    """How pushes and scans start rollouts in the `auto = true` environments."""

    # Start after the image's scan (ECR basic scan or Inspector) completed without a new
    # critical finding, instead of at the push.
    wait_for_scan: Flag = False
