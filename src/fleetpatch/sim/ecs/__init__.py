"""fleetpatch's own in-memory ECS: clusters, task definitions, services whose rolling
deployments move with the simulated clock, tasks, and the service deployment / revision APIs.

`EcsSimulator.handle(account, region, action, params)` answers one ECS API call the way the
awsJson1_1 wire protocol carries it; the HTTP server in front of it does the (de)serialization.
"""

from __future__ import annotations

import threading
from typing import Any

from fleetpatch.sim.clock import SimClock
from fleetpatch.sim.ecs.api import EcsApi
from fleetpatch.sim.ecs.deployments import RolloutEngine
from fleetpatch.sim.ecs.ids import IdGenerator
from fleetpatch.sim.ecs.models import ContainerInstance, EcsAccount
from fleetpatch.sim.protocol import AwsError, FailureRules, ImageLookup

__all__ = ["EcsSimulator"]


class EcsSimulator:
    """ECS for any number of independent (account, region) pairs. Thread-safe: one lock
    around every call (the model is small and every call is fast)."""

    def __init__(
        self,
        clock: SimClock,
        images: ImageLookup,
        failures: FailureRules,
        task_start_seconds: float = 30.0,
        task_stop_seconds: float = 10.0,
        seed: int | None = None,
    ) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str, str], EcsAccount] = {}
        self._ids = IdGenerator(seed)
        self._engine = RolloutEngine(
            images, failures, self._ids, task_start_seconds, task_stop_seconds
        )
        self._api = EcsApi(self._engine, task_start_seconds)

    @property
    def operations(self) -> list[str]:
        """The ECS API operations this layer serves."""
        return sorted(self._api.handlers)

    def handle(
        self,
        account: str,
        region: str,
        action: str,
        params: dict[str, Any],
        principal: str | None = None,
    ) -> dict[str, Any]:
        """Answer one call. `principal` is the caller's ARN (as sts:GetCallerIdentity tells
        it), which ECS records as a task definition's registeredBy and a service's createdBy;
        without one (the scenario's own seeding) the account's root stands in."""
        handler = self._api.handlers.get(action)
        if handler is None:
            raise AwsError("UnknownOperationException", f"Unknown operation {action}.")
        with self._lock:
            now = self.clock.now().timestamp()
            # Read by the handlers of this one call (the lock makes calls one at a time).
            self._api.principal = principal or f"arn:aws:iam::{account}:root"
            return handler(self._account(account, region), params, now)

    def register_container_instances(
        self, account: str, region: str, cluster: str, count: int
    ) -> list[str]:
        """Register `count` EC2 container instances to `cluster` (what the ECS agent's
        RegisterContainerInstance does when an instance boots); returns their ARNs. DAEMON
        services of the cluster get a task on each at their next pass."""
        with self._lock:
            now = self.clock.now().timestamp()
            acct = self._account(account, region)
            target = acct.clusters.get(cluster)
            if target is None:
                raise KeyError(f"no cluster {cluster!r} in {account}/{region}")
            arns: list[str] = []
            for _ in range(count):
                instance_id = self._ids.task_id()
                target.container_instances.append(
                    ContainerInstance(
                        arn=acct.arn(f"container-instance/{cluster}/{instance_id}"),
                        ec2_instance_id=f"i-{instance_id[:17]}",
                        registered_at=now,
                    )
                )
                arns.append(target.container_instances[-1].arn)
            for service in target.services.values():
                if service.scheduling_strategy == "DAEMON" and service.status == "ACTIVE":
                    self._engine.advance(acct, service, now)
                    self._engine.reconcile(acct, service, now)
                    self._engine.update_busy(acct, service)
            return arns

    def settle(self) -> None:
        """Finish every deployment in flight at once, as if enough time had passed; everything
        is stamped with the clock's current time. Used to seed a scenario's history."""
        with self._lock:
            now = self.clock.now().timestamp()
            for acct in self._accounts.values():
                for service in list(acct.busy_services.values()):
                    self._engine.settle(acct, service, now)

    def advance(self) -> None:
        """Bring every deployment in flight up to the clock's now.

        State moves lazily, when a call reads it, and a task start asks the registry and the
        failure rules at the moment it is computed. Call this before changing registry state
        (a tag move, an expired digest) or failure rules, so that what happened before the
        change is computed against the state before the change."""
        with self._lock:
            now = self.clock.now().timestamp()
            for acct in self._accounts.values():
                for service in list(acct.busy_services.values()):
                    self._engine.advance(acct, service, now)

    def _account(self, account: str, region: str) -> EcsAccount:
        key = (account, region)
        acct = self._accounts.get(key)
        if acct is None:
            acct = self._accounts[key] = EcsAccount(account=account, region=region)
        return acct
