"""Rollout wall time against the issue's bound and a sequential deploy-and-wait baseline.

    .venv/bin/python bench/rollout.py [--sizes 36,300] [--deploy-seconds 60] [--time-scale 30]

Issue 4, Performance: N services, each deployment taking D simulated seconds (the scenario's
`task_start_seconds`; old tasks stop at once). The simulator runs in this process with time
running `--time-scale` times faster than real time, so D real seconds = D / scale.

- fleetpatch: read the environment, plan, pre-flight, then run every wave (canary, then
  batches of policy.max_parallel) with the real executor, which waits and verifies every task.
  Target: wall time <= 1.5 x D x number of waves.
- baseline: what a per-service deploy tool does: for each service, UpdateService
  (forceNewDeployment), then poll DescribeServices until the deployment is COMPLETED; next
  service. N x D at best. For large N it is measured on the first `--baseline-sample`
  services and scaled to N (said so in the output), to keep the bench under ~5 minutes.
Both run against a fresh simulator of the same fleet, in the same invocation. AWS calls per
service come from the simulator's own call counter (STS included).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetpatch.config import Config, load_config
from fleetpatch.journal import SqliteJournal
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.plan import plan, resolve_target
from fleetpatch.rollout.runner import Runner
from fleetpatch.rollout.waits import PollPolicy
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client
from fleets import REGION, fleet, service_names

ACCOUNT = "111111111111"


def write_config(sim: Simulator, directory: Path, max_parallel: int) -> Config:
    text = (
        '[[sidecars]]\nname = "fluent-bit"\nrepository = "fluent-bit"\ncontainer = "log_router"\n\n'
        f'[[environments]]\nname = "bench"\naccount_id = "{ACCOUNT}"\nregion = "{REGION}"\n'
        f'endpoint_url = "{sim.endpoint_url}"\n'
        f'credentials = {{ role_arn = "arn:aws:iam::{ACCOUNT}:role/fleetpatch" }}\n\n'
        f"[policy]\nmax_parallel = {max_parallel}\ncanary = 1\n"
    )
    path = directory / "fleetpatch.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@dataclass
class Measured:
    seconds: float
    calls: int
    waves: int = 0
    services: int = 0


def run_fleetpatch(services: int, args: argparse.Namespace, max_parallel: int) -> Measured:
    scenario = fleet(services, task_start_seconds=args.deploy_seconds, task_stop_seconds=0)
    d_real = args.deploy_seconds / args.time_scale
    with Simulator(scenario, time_scale=args.time_scale) as sim, tempfile.TemporaryDirectory() as d:
        config = write_config(sim, Path(d), max_parallel)
        sim.reset_calls()
        with SqliteJournal(Path(d) / "journal.sqlite") as journal:
            poll = PollPolicy(interval=d_real / 8, max_interval=d_real / 4, timeout=600)
            runner = Runner(config, journal, options=RolloutOptions(poll=poll, workers=16))
            started = time.perf_counter()
            snapshot = runner.snapshot("bench")
            sidecar = config.sidecar()
            target = resolve_target(snapshot.environments[0], sidecar)
            the_plan = plan(snapshot, "bench", sidecar, target, config.policy)
            runner.preflight(the_plan)
            with runner.locked("bench") as lock:
                result = runner.execute(the_plan, lock)
            seconds = time.perf_counter() - started
        if not result.ok or len(result.with_status("verified")) != services:
            sys.exit(
                f"rollout of {services} services did not verify them all: {result.halt_reason}"
            )
        return Measured(seconds, sum(sim.calls.values()), len(the_plan.waves), services)


def run_baseline(services: int, args: argparse.Namespace) -> Measured:
    """Per service: UpdateService, then poll until COMPLETED. Measured on a sample."""
    sample = min(services, args.baseline_sample)
    d_real = args.deploy_seconds / args.time_scale
    with Simulator(
        fleet(services, task_start_seconds=args.deploy_seconds, task_stop_seconds=0),
        time_scale=args.time_scale,
    ) as sim:
        ecs = client(sim, "ecs", "bench")
        sim.reset_calls()
        started = time.perf_counter()
        for i in range(sample):
            name = service_names(services)[i]
            ecs.update_service(cluster="main", service=name, forceNewDeployment=True)
            while not _completed(ecs, name):
                time.sleep(d_real / 8)  # the same first poll interval fleetpatch uses
        seconds = time.perf_counter() - started
        return Measured(seconds, sum(sim.calls.values()), services=sample)


def _completed(ecs: Any, name: str) -> bool:
    service = ecs.describe_services(cluster="main", services=[name])["services"][0]
    primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    return bool(primary.get("rolloutState") == "COMPLETED" and len(service["deployments"]) == 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="36,300")
    parser.add_argument("--deploy-seconds", type=float, default=60.0, help="D, simulated")
    parser.add_argument("--time-scale", type=float, default=30.0)
    parser.add_argument("--baseline-sample", type=int, default=36)
    args = parser.parse_args()
    d_real = args.deploy_seconds / args.time_scale
    print(
        f"D = {args.deploy_seconds:g} simulated s = {d_real:.2f} real s "
        f"(time scale {args.time_scale:g})"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        max_parallel = 10 if size <= 50 else 50
        fp = run_fleetpatch(size, args, max_parallel)
        base = run_baseline(size, args)
        bound = 1.5 * d_real * fp.waves
        base_total = base.seconds * size / base.services
        sampled = "" if base.services == size else f" (measured on {base.services}, scaled)"
        print(f"\n{size} services, max_parallel {max_parallel}: {fp.waves} waves")
        print(
            f"  fleetpatch rollout      {fp.seconds:7.1f} s   bound 1.5 x D x waves = {bound:.1f} s"
            f"   {'OK' if fp.seconds <= bound else 'OVER'}"
        )
        print(
            f"  sequential baseline     {base_total:7.1f} s{sampled}   "
            f"N x D = {size * d_real:.1f} s"
        )
        print(f"  speed-up                {base_total / fp.seconds:7.1f} x")
        print(
            f"  AWS calls per service   fleetpatch {fp.calls / size:.1f}, "
            f"baseline {base.calls / base.services:.1f}"
        )


if __name__ == "__main__":
    main()
