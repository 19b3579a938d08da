"""Inventory benchmark (issue 9 item 5): 3 environments x 1,000 services x 2 tasks, on the
simulator with AWS's rate limits on (its default) and 20 ms injected latency per call.

    .venv/bin/python bench/inventory.py                # full run (~7 min), writes the doc
    .venv/bin/python bench/inventory.py --services 50  # a quick look, writes nothing

Measures, on one simulator and in the same run, each starting with full token buckets:
- cold: fleetpatch's inventory (`fleetpatch.inventory.collect`) with an empty
  `SqliteAnswerCache`: AWS calls against the minimum the APIs allow for this fleet, and wall
  time against the least time AWS's token buckets allow for those minimum calls;
- warm: the same `collect` again with the same cache (the fleet unchanged);
- the naive baseline a simple script would do: per service, sequentially, DescribeServices,
  DescribeTaskDefinition, ListTasks, DescribeTasks, DescribeImages, with plain boto3 clients
  (boto3's default retries, no pacing of its own) under the same limits.

Targets (issue 9): cold <= 1.2 x the token-bucket floor; warm <= 0.2 x the cold run's calls and
>= 5 x faster than cold. The bench prints PASS/FAIL per target and exits 1 if one fails; it is
a measurement, not a test of the suite.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config, load_config
from fleetpatch.inventory.answers import SqliteAnswerCache
from fleetpatch.inventory.collect import collect
from fleetpatch.sim import Simulator
from fleetpatch.sim.limits import aws_buckets
from fleetpatch.sim.simulator import client
from fleets import REGION, fleet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"
ENVIRONMENTS = [("dev", "111111111111"), ("stg", "222222222222"), ("prod", "333333333333")]
TASKS_PER_SERVICE = 2
LATENCY_MS = 20
# Seconds to wait before a measured run so that fleetpatch's own pacer (one per account, for
# the whole process) is full again: its largest bucket, 99 tokens at 19/s, refills in 5.2 s.
# The simulator's buckets are refilled by `set_faults`.
SETTLE_SECONDS = 6.0
COLD_BOUND = 1.2
WARM_CALLS = 0.2
WARM_SPEEDUP = 5.0


def scenario(services: int) -> dict[str, Any]:
    """The fleet: every service its own task definition family (as in real fleets), an app
    container and a fluent-bit log router referencing `latest`."""
    return fleet(services, tuple(ENVIRONMENTS), tasks=TASKS_PER_SERVICE)


def write_config(sim: Simulator, directory: Path) -> Config:
    lines = ['[[sidecars]]\nname = "fluent-bit"\nrepository = "fluent-bit"\n']
    for name, account in ENVIRONMENTS:
        lines.append(
            f'[[environments]]\nname = "{name}"\naccount_id = "{account}"\n'
            f'region = "{REGION}"\nendpoint_url = "{sim.endpoint_url}"\n'
            f'credentials = {{ role_arn = "arn:aws:iam::{account}:role/fleetpatch" }}\n'
        )
    path = directory / "fleetpatch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return load_config(path)


def minimum_calls(services: int) -> dict[str, int]:
    """The fewest calls the APIs allow for this fleet, per operation, all environments.

    Per environment: 1 cluster, `services` services each with its own task definition
    revision and one service revision, 2 tasks each, 1 repository of 2 images.
    """
    tasks = services * TASKS_PER_SERVICE
    per_env = {
        "ecs:ListClusters": 1,
        "ecs:ListServices": math.ceil(services / 100),
        "ecs:DescribeServices": math.ceil(services / 10),
        "ecs:DescribeTaskDefinition": services,  # no batch API exists
        "ecs:ListTasks": math.ceil(tasks / 100),
        "ecs:DescribeTasks": math.ceil(tasks / 100),
        "ecs:DescribeServiceRevisions": math.ceil(services / 20),
        "ecr:DescribeImages": 1,
        "ecr:GetLifecyclePolicy": 1,
    }
    return {op: n * len(ENVIRONMENTS) for op, n in per_env.items()}


def bucket_floor(minimum: dict[str, int]) -> tuple[float, str]:
    """The least seconds the minimum calls take through AWS's token buckets as the simulator
    enforces them (sim/limits.py), starting full, and the bucket that sets it. Every
    environment is its own account with its own buckets, read in parallel: the floor is one
    account's. Operations sharing a bucket add up; buckets refill in parallel."""
    buckets = aws_buckets()
    per_bucket: dict[str, int] = {}
    limits: dict[str, tuple[int, float]] = {}
    for op, total in minimum.items():
        service, action = op.split(":")
        bucket = buckets.get((service, action))
        if bucket is None:  # AWS publishes no rate (ECR DescribeImages, GetLifecyclePolicy)
            continue
        per_bucket[bucket.name] = per_bucket.get(bucket.name, 0) + total // len(ENVIRONMENTS)
        limits[bucket.name] = (bucket.burst, bucket.rate)
    seconds, binding = 0.0, "none"
    for name, calls in sorted(per_bucket.items()):
        burst, rate = limits[name]
        least = max(0, calls - burst) / rate
        if least > seconds:
            seconds, binding = least, f"{name} ({calls} calls, burst {burst}, {rate:g}/s)"
    return seconds, binding


def naive(sim: Simulator) -> tuple[int, int]:
    """The per-service sequential baseline, with plain boto3 clients (boto3's default retry
    configuration, no pacing): (services read, ThrottlingExceptions it was answered)."""
    read = 0
    throttled = [0]

    def count_throttles(response: Any = None, **_: Any) -> None:
        if response is not None and response[1].get("Error", {}).get("Code") == (
            "ThrottlingException"
        ):
            throttled[0] += 1

    for name, _account in ENVIRONMENTS:
        ecs, ecr = client(sim, "ecs", name), client(sim, "ecr", name)
        for c in (ecs, ecr):
            c.meta.events.register("needs-retry", count_throttles)
        arns: list[str] = []
        for page in ecs.get_paginator("list_services").paginate(cluster="main"):
            arns.extend(page["serviceArns"])
        for arn in arns:
            service = ecs.describe_services(cluster="main", services=[arn])["services"][0]
            definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
            _ = definition["taskDefinition"]["containerDefinitions"]
            task_arns = ecs.list_tasks(cluster="main", serviceName=service["serviceName"])[
                "taskArns"
            ]
            tasks = (
                ecs.describe_tasks(cluster="main", tasks=task_arns)["tasks"] if task_arns else []
            )
            digests = {
                c["imageDigest"]
                for t in tasks
                for c in t["containers"]
                if c["name"] == "log_router" and c.get("imageDigest")
            }
            if digests:
                ecr.describe_images(
                    repositoryName="fluent-bit", imageIds=[{"imageDigest": d} for d in digests]
                )
            read += 1
    return read, throttled[0]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def warm_up(sim: Simulator, config: Config) -> AwsSessions:
    """Role sessions and connections, made before anything is measured (one ListClusters per
    environment: a cluster-read token, given back by `set_faults`)."""
    sessions = AwsSessions(config)
    for env in config.environments:
        sessions.get(env.name).ecs().list_clusters()
    return sessions


def settle(sim: Simulator) -> None:
    """Full buckets on both sides before a measured run (see SETTLE_SECONDS)."""
    time.sleep(SETTLE_SECONDS)
    sim.set_faults(latency_ms=LATENCY_MS)  # AWS's limits on, full buckets
    sim.reset_calls()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--services", type=int, default=1000, help="services per environment")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    args = parser.parse_args()
    services: int = args.services

    print(f"building the fleet: {len(ENVIRONMENTS)} environments x {services} services ...")
    with Simulator(scenario(services)) as sim, tempfile.TemporaryDirectory() as tmp:
        config = write_config(sim, Path(tmp))
        sessions = warm_up(sim, config)
        answers = SqliteAnswerCache(Path(tmp) / "cache.sqlite")

        settle(sim)
        snapshot, cold = timed(lambda: collect(config, sessions=sessions, answers=answers))
        cold_calls = dict(sim.calls)
        assert not snapshot.failed, [env.error for env in snapshot.failed]
        runs = sum(1 for _ in snapshot.runs())
        print(f"cold: {cold:.1f} s, {sum(cold_calls.values())} calls")

        settle(sim)
        again, warm = timed(lambda: collect(config, sessions=sessions, answers=answers))
        warm_calls = dict(sim.calls)
        assert not again.failed, [env.error for env in again.failed]
        assert _same_runs(snapshot, again), "the warm read found another fleet"
        print(f"warm: {warm:.1f} s, {sum(warm_calls.values())} calls")

        baseline: float | None = None
        read = throttled = baseline_calls = 0
        if not args.no_naive:
            settle(sim)
            (read, throttled), baseline = timed(lambda: naive(sim))
            baseline_calls = sum(sim.calls.values())
            print(f"naive: {baseline:.1f} s, {baseline_calls} calls, {throttled} throttled")
        answers.close()

    minimum = minimum_calls(services)
    floor, binding = bucket_floor(minimum)
    result = Result(
        services, runs, read, cold_calls, warm_calls, minimum, floor, binding,
        cold, warm, baseline, baseline_calls, throttled,
    )  # fmt: skip
    report = result.render()
    print(report)
    if services == 1000 and baseline is not None:
        write_results(report)
        print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if result.passed() else 1


def _same_runs(first: Any, second: Any) -> bool:
    """The warm read found what the cold one did (each service's sidecar runs)."""

    def key(snapshot: Any) -> list[str]:
        return sorted(
            f"{env.name}/{service.cluster}/{service.service} {run!r}"
            for env, service, run in snapshot.runs()
        )

    return key(first) == key(second)


class Result:
    def __init__(
        self,
        services: int,
        runs: int,
        read: int,
        cold_calls: dict[str, int],
        warm_calls: dict[str, int],
        minimum: dict[str, int],
        floor: float,
        binding: str,
        cold: float,
        warm: float,
        baseline: float | None,
        baseline_calls: int,
        throttled: int,
    ) -> None:
        self.services, self.runs, self.read = services, runs, read
        self.cold_calls, self.warm_calls, self.minimum = cold_calls, warm_calls, minimum
        self.floor, self.binding = floor, binding
        self.cold, self.warm, self.baseline = cold, warm, baseline
        self.baseline_calls, self.throttled = baseline_calls, throttled
        self.cold_total = sum(cold_calls.values())
        self.warm_total = sum(warm_calls.values())
        self.least = sum(minimum.values())

    def targets(self) -> list[tuple[str, str, bool]]:
        cold_ratio = self.cold / self.floor if self.floor else math.inf
        calls_ratio = self.warm_total / self.cold_total
        speedup = self.cold / self.warm
        return [
            (
                f"cold <= {COLD_BOUND:g} x bucket floor",
                f"{self.cold:.1f} s = {cold_ratio:.2f} x {self.floor:.1f} s",
                cold_ratio <= COLD_BOUND,
            ),
            (
                f"warm calls <= {WARM_CALLS:g} x cold",
                f"{self.warm_total} / {self.cold_total} = {calls_ratio:.3f} x",
                calls_ratio <= WARM_CALLS,
            ),
            (
                f"warm >= {WARM_SPEEDUP:g} x faster than cold",
                f"{self.cold:.1f} s / {self.warm:.1f} s = {speedup:.1f} x",
                speedup >= WARM_SPEEDUP,
            ),
        ]

    def passed(self) -> bool:
        return all(ok for _, _, ok in self.targets())

    def render(self) -> str:
        lines = [
            f"Fleet: {len(ENVIRONMENTS)} environments (3 accounts) x {self.services} services "
            f"x {TASKS_PER_SERVICE} tasks; AWS's rate limits on (the simulator's default), "
            f"{LATENCY_MS} ms injected latency per call. Every run starts with full buckets.",
            "",
            "| operation | cold calls | warm calls | API minimum (cold) |",
            "|---|---:|---:|---:|",
        ]
        ops = sorted(set(self.cold_calls) | set(self.warm_calls) | set(self.minimum))
        for op in ops:
            lines.append(
                f"| {op} | {self.cold_calls.get(op, 0)} | {self.warm_calls.get(op, 0)} | "
                f"{self.minimum.get(op, 0)} |"
            )
        lines += [
            f"| **total** | **{self.cold_total}** | **{self.warm_total}** | **{self.least}** |",
            "",
            f"Token-bucket floor for the minimum calls: **{self.floor:.1f} s**, set by "
            f"{self.binding} per account; the three accounts' buckets refill in parallel.",
            "",
            "| | cold inventory | warm inventory | naive per-service loop |",
            "|---|---:|---:|---:|",
        ]
        base = self.baseline
        base_time = f"{base:.1f} s" if base is not None else "not run"
        lines += [
            f"| services read | {self.runs} | {self.runs} | {self.read} |",
            f"| AWS calls | {self.cold_total} ({self.cold_total / self.least:.3f} x minimum) "
            f"| {self.warm_total} | {self.baseline_calls} ({self.throttled} throttled) |",
            f"| wall time | {self.cold:.1f} s | {self.warm:.1f} s | {base_time} |",
            f"| x bucket floor | {_ratio(self.cold, self.floor)} | - | "
            f"{_ratio(base, self.floor)} |",
            f"| naive time / this time | {_ratio(base, self.cold)} | "
            f"{_ratio(base, self.warm)} | 1 x |",
            "",
            "| target (issue 9 item 5) | measured | result |",
            "|---|---|---|",
        ]
        for name, measured, ok in self.targets():
            lines.append(f"| {name} | {measured} | {'PASS' if ok else 'FAIL'} |")
        return "\n".join(lines)


def _ratio(numerator: float | None, denominator: float) -> str:
    if numerator is None or denominator <= 0:
        return "-"
    return f"{numerator / denominator:.2f} x"


def write_results(report: str) -> None:
    """Replace (or add) the inventory section of docs/benchmarks.md."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        "## Inventory: cold, warm, naive (issue 9 item 5)\n\n"
        f"Command: `.venv/bin/python bench/inventory.py` (measured {when}).\n\n"
        f"{report}\n"
    )
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    pattern = re.compile(r"## Inventory.*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
