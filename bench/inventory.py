"""Inventory benchmark (issue 3): 3 environments x 1,000 services x 2 tasks, 20 ms per call.

    .venv/bin/python bench/inventory.py                 # the full run, writes docs/benchmarks.md
    .venv/bin/python bench/inventory.py --services 50   # a quick look, writes nothing

Measures, on the simulator and in the same run:
- fleetpatch's inventory (`fleetpatch.inventory.collect`): AWS calls against the minimum the
  APIs allow for this fleet's shape, and wall time;
- the naive baseline a simple Lambda would do: per service, sequentially, DescribeServices,
  DescribeTaskDefinition, ListTasks, DescribeTasks, DescribeImages.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import Config, load_config
from fleetpatch.inventory.collect import collect
from fleetpatch.sim import Simulator
from fleets import REGION, fleet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"
ENVIRONMENTS = [("dev", "111111111111"), ("stg", "222222222222"), ("prod", "333333333333")]
TASKS_PER_SERVICE = 2
LATENCY_MS = 20


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


def naive(config: Config) -> int:
    """The per-service sequential baseline; returns the number of services it read."""
    sessions = AwsSessions(config)
    read = 0
    for env in config.environments:
        aws = sessions.get(env.name)
        ecs, ecr = aws.ecs(), aws.ecr()
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
    return read


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000, help="services per environment")
    args = parser.parse_args()
    services: int = args.services

    print(f"building the fleet: {len(ENVIRONMENTS)} environments x {services} services ...")
    with Simulator(scenario(services)) as sim, tempfile.TemporaryDirectory() as tmp:
        config = write_config(sim, Path(tmp))
        collect(config)  # warm-up: role sessions, connections (not measured)
        sim.set_faults(latency_ms=LATENCY_MS)

        sim.reset_calls()
        snapshot, ours = timed(lambda: collect(config))
        calls = dict(sim.calls)
        assert not snapshot.failed, [env.error for env in snapshot.failed]
        runs = sum(1 for _ in snapshot.runs())

        sim.reset_calls()
        read, baseline = timed(lambda: naive(config))
        baseline_calls = sum(sim.calls.values())

    minimum = minimum_calls(services)
    total, least = sum(calls.values()), sum(minimum.values())
    report = render(
        services, runs, read, calls, minimum, total, least, ours, baseline, baseline_calls
    )
    print(report)
    if services == 1000:
        write_results(report)
        print(f"written to {RESULTS.relative_to(ROOT)}")
    ok = total <= 1.1 * least and baseline >= 10 * ours
    return 0 if ok else 1


def render(
    services: int,
    runs: int,
    read: int,
    calls: dict[str, int],
    minimum: dict[str, int],
    total: int,
    least: int,
    ours: float,
    baseline: float,
    baseline_calls: int,
) -> str:
    lines = [
        f"Fleet: {len(ENVIRONMENTS)} environments x {services} services x "
        f"{TASKS_PER_SERVICE} tasks, {LATENCY_MS} ms injected latency per call "
        "(`sim.set_faults(latency_ms=20)`).",
        "",
        "| operation | fleetpatch calls | API minimum |",
        "|---|---:|---:|",
    ]
    for op in sorted(set(calls) | set(minimum)):
        lines.append(f"| {op} | {calls.get(op, 0)} | {minimum.get(op, 0)} |")
    lines += [
        f"| **total** | **{total}** | **{least}** |",
        "",
        "| | fleetpatch inventory | naive per-service baseline |",
        "|---|---:|---:|",
        f"| services read | {runs} | {read} |",
        f"| AWS calls | {total} ({total / least:.3f} x minimum) | {baseline_calls} |",
        f"| wall time | {ours:.1f} s | {baseline:.1f} s |",
        f"| speed-up | **{baseline / ours:.1f} x** | 1 x |",
    ]
    return "\n".join(lines)


def write_results(report: str) -> None:
    """Replace (or add) the inventory section of docs/benchmarks.md."""
    section = (
        "## Inventory\n\n"
        "Command: `.venv/bin/python bench/inventory.py` (issue 3: AWS calls at most 1.1 x the "
        "API minimum, wall time at least 10 x shorter than the naive baseline).\n\n"
        f"{report}\n"
    )
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    pattern = re.compile(r"## Inventory\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(section.rstrip("\n") + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
