"""The embedded local AWS fleet simulator (see docs/scenario.md).

with Simulator("examples/talk/scenario.yaml") as sim:
    boto3.client("ecs", endpoint_url=sim.endpoint_url, ...)
"""

from fleetpatch.sim.loading import load_scenario
from fleetpatch.sim.scenario import Scenario
from fleetpatch.sim.simulator import DEFAULT_PORT, SIM_ACCESS_KEY, Simulator

__all__ = ["DEFAULT_PORT", "SIM_ACCESS_KEY", "Scenario", "Simulator", "load_scenario"]
