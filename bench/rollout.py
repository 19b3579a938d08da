"""Rollout at the limit (issue 9 item 6): 300 services in moving-tag mode and in pin mode, on
the simulator with AWS's rate limits on (its default), against the bound the token buckets
and `D x waves` set together.

    .venv/bin/python bench/rollout.py                                # tag + pin, ~8 minutes
    .venv/bin/python bench/rollout.py --services 30 --modes tag      # a quick look

One environment of N services x 2 tasks on the in-process simulator, time running
`--time-scale` times faster than real time; each deployment takes D simulated seconds
(`task_start_seconds`; old tasks stop at once), D / scale real seconds. AWS's token buckets
refill in REAL time (docs/scenario.md), so the API floor is real: pin mode registers one task
definition revision per service, RegisterTaskDefinition 20 at once then 1 a second.

Per mode, on a fresh simulator and its own account (so that the simulator's buckets and
fleetpatch's one pacer per account both start full), what `fleetpatch rollout` does: read the
environment (with an answer cache, as the CLI), plan, pre-flight, then every wave (1 canary,
then batches of policy.max_parallel) with the real executor, which waits for and verifies every
task. Phases are timed apart; the bound applies to the waves (the executor).

The bound: the waves run one after another; a wave's deployments start as its calls get
tokens (`rollout/pacing.py` `wave_calls`: the product's own estimate of a wave's calls) and it
ends D after its last start; the buckets refill meanwhile. This floor is at least both
`D x waves` and the plan's API floor (`plan_pacing`); whichever of the two is larger binds.
Target (kept from issue 4): the waves take at most 1.5 x the bound.

Baseline: a per-service deploy tool in moving-tag mode (UpdateService forceNewDeployment,
poll DescribeServices until COMPLETED, next service), N x D at best, measured on the first
`--baseline-sample` services and scaled (it is sequential: linear in N).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from fleetpatch.config import Config, load_config
from fleetpatch.inventory.answers import SqliteAnswerCache
from fleetpatch.journal import SqliteJournal
from fleetpatch.rollout.executor import RolloutOptions
from fleetpatch.rollout.pacing import plan_pacing, wave_calls
from fleetpatch.rollout.plan import Mode, Plan, plan
from fleetpatch.rollout.runner import Runner
from fleetpatch.rollout.target import resolve_target
from fleetpatch.rollout.waits import PollPolicy
from fleetpatch.sim import Simulator
from fleetpatch.sim.limits import aws_buckets
from fleetpatch.sim.simulator import client
from fleets import REGION, fleet, service_names

# One account per run: fleetpatch's pacer is one per account for the whole process.
ACCOUNTS = {"tag": "111111111111", "pin": "222222222222", "baseline": "333333333333"}
BOUND_FACTOR = 1.5


def write_config(sim: Simulator, directory: Path, account: str, max_parallel: int) -> Config:
    text = (
        '[[sidecars]]\nname = "fluent-bit"\nrepository = "fluent-bit"\ncontainer = "log_router"\n\n'
        f'[[environments]]\nname = "bench"\naccount_id = "{account}"\nregion = "{REGION}"\n'
        f'endpoint_url = "{sim.endpoint_url}"\n'
        f'credentials = {{ role_arn = "arn:aws:iam::{account}:role/fleetpatch" }}\n\n'
        f"[policy]\nmax_parallel = {max_parallel}\ncanary = 1\n"
    )
    path = directory / "fleetpatch.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def combined_floor(the_plan: Plan, d_real: float) -> float:
    """The least seconds the waves take when each starts its deployments as AWS's buckets
    (as the simulator enforces them, sim/limits.py) give tokens, ends D after its last start,
    and the next waits for it; buckets refill all along."""
    buckets = aws_buckets()
    tokens: dict[str, float] = {}
    now = 0.0
    for wave in the_plan.waves:
        per_bucket: dict[str, int] = {}
        limits: dict[str, tuple[int, float]] = {}
        for (service, operation), count in wave_calls(the_plan, wave).items():
            bucket = buckets.get((service, operation))
            if bucket is None:
                continue
            per_bucket[bucket.name] = per_bucket.get(bucket.name, 0) + count
            limits[bucket.name] = (bucket.burst, bucket.rate)
        wait = 0.0
        left: dict[str, float] = {}
        for name, count in per_bucket.items():
            burst, rate = limits[name]
            have = tokens.get(name, float(burst))
            wait = max(wait, max(0.0, count - have) / rate)
            left[name] = have - count  # negative: owed, paid back at `rate`
        end = now + wait + d_real
        for name, owed in left.items():
            burst, rate = limits[name]
            tokens[name] = min(float(burst), owed + rate * (end - now))
        # Buckets this wave did not touch refill too; they start full and stay full.
        now = end
    return now


@dataclass
class Measured:
    mode: str
    services: int
    waves: int
    read: float
    preflight: float
    execute: float
    calls: int
    bound: float
    waves_floor: float
    api_floor: float
    api_binding: str

    @property
    def total(self) -> float:
        return self.read + self.preflight + self.execute

    @property
    def binds(self) -> str:
        if self.api_floor > self.waves_floor:
            return f"token buckets ({self.api_binding})"
        return "D x waves"


def run_fleetpatch(mode: Mode, services: int, args: argparse.Namespace) -> Measured:
    account = ACCOUNTS[mode]
    scenario = fleet(
        services,
        (("bench", account),),
        task_start_seconds=args.deploy_seconds,
        task_stop_seconds=0,
    )
    d_real = args.deploy_seconds / args.time_scale
    with Simulator(scenario, time_scale=args.time_scale) as sim, tempfile.TemporaryDirectory() as d:
        config = write_config(sim, Path(d), account, args.max_parallel)
        sim.reset_calls()
        poll = PollPolicy(interval=d_real / 8, max_interval=d_real / 4, timeout=1800)
        with (
            SqliteJournal(Path(d) / "journal.sqlite") as journal,
            SqliteAnswerCache(Path(d) / "cache.sqlite") as answers,
        ):
            runner = Runner(
                config, journal, options=RolloutOptions(poll=poll, workers=16), answers=answers
            )
            started = time.perf_counter()
            snapshot = runner.snapshot("bench")
            sidecar = config.sidecar()
            target = resolve_target(snapshot.environments[0], sidecar)
            the_plan = plan(snapshot, "bench", sidecar, target, config.policy, mode=mode)
            read = time.perf_counter() - started
            runner.preflight(the_plan)
            preflight = time.perf_counter() - started - read
            with runner.locked("bench") as lock:
                result = runner.execute(the_plan, lock)
            execute = time.perf_counter() - started - read - preflight
        if not result.ok or len(result.with_status("verified")) != services:
            sys.exit(
                f"{mode} rollout of {services} services did not verify them all: "
                f"{result.halt_reason}"
            )
        pacing = plan_pacing(the_plan).total
        binding = pacing.binding
        return Measured(
            mode=mode,
            services=services,
            waves=len(the_plan.waves),
            read=read,
            preflight=preflight,
            execute=execute,
            calls=sum(sim.calls.values()),
            bound=combined_floor(the_plan, d_real),
            waves_floor=d_real * len(the_plan.waves),
            api_floor=pacing.seconds,
            api_binding="none"
            if binding is None
            else f"{binding.name} {binding.burst} burst, {binding.rate:g}/s",
        )


def run_baseline(services: int, args: argparse.Namespace) -> tuple[float, int, int]:
    """Per service: UpdateService, then poll until COMPLETED, on a sample: (seconds, calls,
    services deployed)."""
    sample = min(services, args.baseline_sample)
    d_real = args.deploy_seconds / args.time_scale
    scenario = fleet(
        services,
        (("bench", ACCOUNTS["baseline"]),),
        task_start_seconds=args.deploy_seconds,
        task_stop_seconds=0,
    )
    with Simulator(scenario, time_scale=args.time_scale) as sim:
        ecs = client(sim, "ecs", "bench")
        sim.reset_calls()
        started = time.perf_counter()
        for name in service_names(services)[:sample]:
            ecs.update_service(cluster="main", service=name, forceNewDeployment=True)
            while not _completed(ecs, name):
                time.sleep(d_real / 8)  # the same first poll interval fleetpatch uses
        return time.perf_counter() - started, sum(sim.calls.values()), sample


def _completed(ecs: Any, name: str) -> bool:
    service = ecs.describe_services(cluster="main", services=[name])["services"][0]
    primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    return bool(primary.get("rolloutState") == "COMPLETED" and len(service["deployments"]) == 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--modes", default="tag,pin")
    parser.add_argument("--max-parallel", type=int, default=50)
    parser.add_argument("--deploy-seconds", type=float, default=300.0, help="D, simulated")
    parser.add_argument("--time-scale", type=float, default=30.0)
    parser.add_argument("--baseline-sample", type=int, default=6, help="0: no baseline")
    args = parser.parse_args()
    d_real = args.deploy_seconds / args.time_scale
    print(
        f"D = {args.deploy_seconds:g} simulated s = {d_real:.2f} real s "
        f"(time scale {args.time_scale:g}); {args.services} services, "
        f"max_parallel {args.max_parallel}, canary 1"
    )
    rows = []
    for mode in args.modes.split(","):
        measured = run_fleetpatch(cast(Mode, mode), args.services, args)
        print(f"{mode}: waves {measured.execute:.1f} s, bound {measured.bound:.1f} s")
        rows.append(measured)
    baseline = run_baseline(args.services, args) if args.baseline_sample else None
    print(render(rows, baseline, args, d_real))
    ok = all(row.execute <= BOUND_FACTOR * row.bound for row in rows)
    return 0 if ok else 1


def render(
    rows: list[Measured],
    baseline: tuple[float, int, int] | None,
    args: argparse.Namespace,
    d_real: float,
) -> str:
    header = "| | " + " | ".join(f"{r.mode} mode" for r in rows) + " |"
    lines = [header, "|---|" + "---:|" * len(rows)]

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("services / waves", [f"{r.services} / {r.waves}" for r in rows])
    row("read + plan (cold answer cache)", [f"{r.read:.1f} s" for r in rows])
    row("pre-flight", [f"{r.preflight:.1f} s" for r in rows])
    row("**waves (executor: start, wait, verify)**", [f"**{r.execute:.1f} s**" for r in rows])
    row("D x waves", [f"{r.waves_floor:.1f} s" for r in rows])
    row("API floor (`plan_pacing`)", [f"{r.api_floor:.1f} s" for r in rows])
    row("bound: buckets and D x waves together", [f"{r.bound:.1f} s" for r in rows])
    row("binds", [r.binds for r in rows])
    row("waves / bound", [f"{r.execute / r.bound:.2f} x" for r in rows])
    row(
        f"target: waves <= {BOUND_FACTOR:g} x bound",
        ["PASS" if r.execute <= BOUND_FACTOR * r.bound else "FAIL" for r in rows],
    )
    row("whole command (read + pre-flight + waves)", [f"{r.total:.1f} s" for r in rows])
    row("AWS calls per service", [f"{r.calls / r.services:.1f}" for r in rows])
    if baseline is not None:
        seconds, calls, sample = baseline
        services = rows[0].services if rows else sample
        scaled = seconds * services / sample
        lines += [
            "",
            f"Sequential baseline (moving-tag mode, UpdateService then poll until COMPLETED): "
            f"{seconds:.1f} s for {sample} services, scaled to {services}: {scaled:.0f} s "
            f"(N x D = {services * d_real:.0f} s); {calls / sample:.1f} AWS calls per service.",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
