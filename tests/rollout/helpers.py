"""Helpers for rollout tests: a config and a clock driven by the simulator, a one-call run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config
from fleetpatch.inventory.collect import collect
from fleetpatch.inventory.registry import open_origin, registry_opener
from fleetpatch.journal import SqliteJournal, default_lock_owner
from fleetpatch.rollout.events import Event, ListSink
from fleetpatch.rollout.executor import Rollout, RolloutOptions, RolloutResult
from fleetpatch.rollout.others import plan_only_sidecar
from fleetpatch.rollout.plan import Mode, Plan
from fleetpatch.rollout.target import resolve_target
from fleetpatch.rollout.waits import PollPolicy
from fleetpatch.sim import Simulator
from tests.inventory.helpers import make_config

FAST_POLL = PollPolicy(interval=5, max_interval=10, backoff=1.5, timeout=30 * 60)


class SimClock:
    """The rollout's clock on a frozen simulator: sleeping advances simulated time."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def now(self) -> float:
        return self.sim.clock.now().timestamp()

    def sleep(self, seconds: float) -> None:
        self.sim.advance(seconds)


def config_for(sim: Simulator, tmp_path: Path, **kwargs: Any) -> Config:
    return make_config(sim, tmp_path, **kwargs)


def make_plan(
    config: Config,
    environment: str = "dev",
    mode: Mode = "tag",
    allow_other_changes: bool = False,
    **target: Any,
) -> Plan:
    """The plan as the CLI makes it (moving-tag mode reads the other containers' tags)."""
    snapshot = collect(config, [environment])
    sidecar = config.sidecar()
    env = next(e for e in snapshot.environments if e.name == environment)
    chosen = resolve_target(env, sidecar, **target)
    aws = AwsSessions(config).get(environment)
    return plan_only_sidecar(
        registry_opener(aws, config.registry_endpoints()),
        snapshot,
        environment,
        sidecar,
        chosen,
        config.policy,
        mode,
        allow_other_changes=allow_other_changes,
    )


def run_rollout(
    sim: Simulator,
    config: Config,
    journal: SqliteJournal,
    environment: str = "dev",
    mode: Mode = "tag",
    options: RolloutOptions | None = None,
    allow_other_changes: bool = False,
    the_plan: Plan | None = None,
    sink: ListSink | None = None,
    **target: Any,
) -> tuple[RolloutResult, ListSink]:
    """`the_plan`: run this plan (made earlier: the fleet may have changed since). `sink`: a
    ListSink that also acts on what it sees (an operator answering a hook)."""
    if the_plan is None:
        the_plan = make_plan(config, environment, mode, allow_other_changes, **target)
    aws = AwsSessions(config).get(environment)
    sink = sink or ListSink()
    lock = journal.acquire_lock(environment, default_lock_owner(), ttl=_ttl())
    try:
        result = Rollout(
            the_plan,
            aws.ecs(),
            aws.ecr(),
            journal,
            lock=lock,
            sink=sink,
            clock=SimClock(sim),
            options=options or RolloutOptions(poll=FAST_POLL),
            registry=open_origin(aws, the_plan.target.registry, config.registry_endpoints()),
            writer=aws.ecs_writes(),
        ).run()
    finally:
        journal.release_lock(lock)
    return result, sink


def _ttl() -> Any:
    from datetime import timedelta

    return timedelta(minutes=2)


class Crash(Exception):
    pass


class CrashAfter(ListSink):
    """Dies like a killed process right after the n-th event of a kind."""

    def __init__(self, kind: str, n: int = 1) -> None:
        super().__init__()
        self.kind, self.n = kind, n

    def emit(self, event: Event) -> None:
        super().emit(event)
        if event.kind == self.kind:
            self.n -= 1
            if self.n == 0:
                raise Crash(event.kind)


def start_canary_then_hang(sim: Simulator, config: Config, journal: SqliteJournal) -> None:
    """A run that starts the canary's deployment and is then stopped in its tracks while the
    deployment is in flight, still holding the environment's lock (a hung or remote run)."""
    aws = AwsSessions(config).get("dev")
    lock = journal.acquire_lock("dev", default_lock_owner(), ttl=_ttl())
    try:
        Rollout(
            make_plan(config),
            aws.ecs(),
            aws.ecr(),
            journal,
            lock=lock,
            sink=CrashAfter("deployment_started"),
            clock=SimClock(sim),
            options=RolloutOptions(poll=FAST_POLL),
        ).run()
    except Crash:
        return
    raise AssertionError("the run never started a deployment")
