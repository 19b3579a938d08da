"""Inventory Map scale model (issue 11 item 6): A accounts x 2 Regions x N services, each
(account, Region) one shard of the inventory state machine (workflow/inventory.asl.json),
on the simulator with AWS's rate limits on (its default) and 20 ms injected latency per call.

    .venv/bin/python bench/shards.py                 # 25 accounts x 2 Regions x 100 services
                                                     # (~2 min), writes docs/scale.md's numbers
    .venv/bin/python bench/shards.py --accounts 4    # a quick look, writes nothing

Measures, in one run, each phase starting with full token buckets on both sides:
- one shard alone: the `inventory_shard` step (fleetpatch.workflow.inventory.handler) for one
  account and Region: its AWS calls per operation and per service, its wall time against the
  least time that account's ECS buckets allow (sim/limits.py);
- the Map: every shard's step side by side, `--concurrency` at once (the Map's MaxConcurrency;
  each shard's account its own buckets), then the merge step; each shard's wall time;
- the baseline, side by side: the CLI's inventory of the same fleet in one process
  (`fleetpatch.inventory.collect`, every environment at once).

Then extrapolates what an organisation of 1,000 accounts would see through the Map as the
definition configures it (MaxConcurrency 40), from the measured per-shard figures and the
token buckets. A measurement, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleetpatch.config import Config, load_config
from fleetpatch.inventory.collect import collect
from fleetpatch.sim import Simulator
from fleetpatch.sim.limits import aws_buckets
from fleetpatch.sim.simulator import client
from fleetpatch.workflow.inventory import make_handler, shard_key
from fleetpatch.workflow.snapshots import S3SnapshotStore
from fleets import fleet

ROOT = Path(__file__).resolve().parent.parent
SCALE_DOC = ROOT / "docs" / "scale.md"
REGIONS = ("eu-west-1", "us-east-1")
TASKS_PER_SERVICE = 2
LATENCY_MS = 20
BUCKET = "fleetpatch-snapshots"
RUN_ID = "bench-shards"
# The definition's MaxConcurrency (inventory.asl.json): an inline Map's most.
MAP_CONCURRENCY = 40
ORG_ACCOUNTS = 1000
# History events: per iteration MapIterationStarted/Succeeded + the Task's 5; the Shards and
# Merge tasks and the Map's own 4. Step Functions keeps 25,000 per execution.
EVENTS_PER_SHARD = 7
EVENTS_FIXED = 5 + 4 + 5
MAX_HISTORY = 25_000
MAX_PAYLOAD = 256 * 1024
# Seconds for fleetpatch's pacer (one per account and Region, process-wide) to refill.
SETTLE_SECONDS = 6.0
DEFAULTS = {"accounts": 25, "services": 100, "concurrency": 10}


def scenario(accounts: int, services: int) -> dict[str, Any]:
    pairs = tuple(
        (f"a{n:03d}-{r[:2]}", f"{100000000000 + n:012d}") for n in range(accounts) for r in REGIONS
    )
    built = fleet(services, pairs, tasks=TASKS_PER_SERVICE)
    for env, (_, region) in zip(
        built["environments"], [(n, r) for n in range(accounts) for r in REGIONS], strict=True
    ):
        env["region"] = region
    return built


def write_config(sim: Simulator, directory: Path) -> Config:
    lines = ['[[sidecars]]\nname = "fluent-bit"\nrepository = "fluent-bit"\n']
    for env in sim.scenario.environments:
        lines.append(
            f'[[environments]]\nname = "{env.name}"\naccount_id = "{env.account}"\n'
            f'region = "{env.region}"\nendpoint_url = "{sim.endpoint_url}"\n'
            f'credentials = {{ role_arn = "arn:aws:iam::{env.account}:role/fleetpatch" }}\n'
        )
    path = directory / "fleetpatch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return load_config(path)


def shard_minimum(services: int) -> dict[str, int]:
    """The fewest calls the APIs allow for one shard (1 cluster, `services` services with a
    task definition and a service revision each, 2 tasks each, 1 repository)."""
    tasks = services * TASKS_PER_SERVICE
    return {
        "ecs:ListClusters": 1,
        "ecs:ListServices": math.ceil(services / 100),
        "ecs:DescribeServices": math.ceil(services / 10),
        "ecs:DescribeTaskDefinition": services,
        "ecs:ListTasks": math.ceil(tasks / 100),
        "ecs:DescribeTasks": math.ceil(tasks / 100),
        "ecs:DescribeServiceRevisions": math.ceil(services / 20),
        "ecr:DescribeImages": 1,
        "ecr:GetLifecyclePolicy": 1,
    }


def bucket_floor(calls: dict[str, int], pacer: bool = False) -> tuple[float, str]:
    """Least seconds `calls` take through one account's buckets, starting full (`pacer`:
    through fleetpatch's own, which keeps one token and 5% of the rate in hand)."""
    per_bucket: Counter[str] = Counter()
    limits: dict[str, tuple[int, float]] = {}
    for op, count in calls.items():
        service, action = op.split(":")
        bucket = aws_buckets().get((service, action))
        if bucket is not None:
            per_bucket[bucket.name] += count
            limits[bucket.name] = (bucket.burst, bucket.rate)
    seconds, binding = 0.0, "none"
    for name, count in sorted(per_bucket.items()):
        burst, rate = limits[name]
        if pacer:
            burst, rate = burst - 1, rate * 0.95
        least = max(0, count - burst) / rate
        if least > seconds:
            seconds, binding = (
                least,
                f"{name} ({count} calls, burst {limits[name][0]}, {limits[name][1]:g}/s)",
            )
    return seconds, binding


def settle(sim: Simulator) -> None:
    time.sleep(SETTLE_SECONDS)
    sim.set_faults(latency_ms=LATENCY_MS)  # AWS's limits on, full buckets
    sim.reset_calls()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name}", type=int, default=value)
    args = parser.parse_args()
    accounts, services, concurrency = args.accounts, args.services, args.concurrency
    print(f"building the fleet: {accounts} accounts x {len(REGIONS)} Regions x {services} services")
    with Simulator(scenario(accounts, services)) as sim, tempfile.TemporaryDirectory() as tmp:
        config = write_config(sim, Path(tmp))
        first = sim.scenario.environments[0]
        s3 = client(sim, "s3", first.name)
        s3.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": first.region}
        )
        store = S3SnapshotStore(BUCKET, s3)
        handler = make_handler(config=lambda: config, store=lambda: store)
        listed = handler({"step": "shards", "run_id": RUN_ID}, None)
        items = listed["shards"]
        shards_bytes = len(json.dumps(listed))

        def run_shard(shard: str) -> float:
            answer, seconds = timed(
                lambda: handler({"step": "inventory_shard", "run_id": RUN_ID, "shard": shard}, None)
            )
            assert answer["errors"] == 0, answer
            return seconds

        settle(sim)
        alone = run_shard(items[0])
        alone_calls = dict(sim.calls)
        account, region = items[0].split("/")
        key = shard_key(RUN_ID, account, region)
        record_bytes = len(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        print(f"one shard: {alone:.1f} s, {sum(alone_calls.values())} calls")

        settle(sim)
        with ThreadPoolExecutor(concurrency) as pool:
            per_shard, mapped = timed(lambda: list(pool.map(run_shard, items)))
        map_calls = sum(sim.calls.values())
        merged, merge_seconds = timed(lambda: handler({"step": "merge", "run_id": RUN_ID}, None))
        assert merged["failed_count"] == 0 and merged["services"] == len(items) * services
        print(f"map: {mapped:.1f} s, {len(items)} shards, {concurrency} at once")

        settle(sim)
        snapshot, one_process = timed(lambda: collect(config))
        assert not snapshot.failed
        baseline_calls = sum(sim.calls.values())
        print(f"one process: {one_process:.1f} s, {baseline_calls} calls")

    result = {
        "accounts": accounts, "services": services, "concurrency": concurrency,
        "shards": len(items), "shards_bytes": shards_bytes, "record_bytes": record_bytes,
        "alone": alone, "alone_calls": alone_calls, "per_shard": per_shard, "mapped": mapped,
        "map_calls": map_calls, "merge": merge_seconds, "one_process": one_process,
        "baseline_calls": baseline_calls,
    }  # fmt: skip
    report = render(result)
    print(report)
    if (accounts, services, concurrency) == tuple(DEFAULTS.values()):
        write_results(report)
        print(f"written to {SCALE_DOC.relative_to(ROOT)}")
    return 0


def render(r: dict[str, Any]) -> str:
    services, shards_n = r["services"], r["shards"]
    minimum = shard_minimum(services)
    least = sum(minimum.values())
    floor, binding = bucket_floor(minimum)
    paced, _ = bucket_floor(minimum, pacer=True)
    alone_total = sum(r["alone_calls"].values())
    per = sorted(r["per_shard"])
    lines = [
        f"Fleet: {r['accounts']} accounts x {len(REGIONS)} Regions = {shards_n} shards, "
        f"{services} services x {TASKS_PER_SERVICE} tasks each ({shards_n * services} services); "
        f"AWS's rate limits on, {LATENCY_MS} ms injected latency per call.",
        "",
        "One shard alone (the `inventory_shard` step for one account and Region):",
        "",
        "| operation | calls | API minimum |",
        "|---|---:|---:|",
    ]
    for op in sorted(set(r["alone_calls"]) | set(minimum)):
        lines.append(f"| {op} | {r['alone_calls'].get(op, 0)} | {minimum.get(op, 0)} |")
    lines.append(
        f"| **total** | **{alone_total}** ({alone_total / services:.2f} per service) "
        f"| **{least}** |"
    )
    rows = [
        ("one shard alone", f"{r['alone']:.1f} s"),
        (
            "its account's bucket floor: AWS's buckets; fleetpatch's pacer",
            f"{floor:.1f} s; {paced:.1f} s ({binding})",
        ),
        (
            f"the Map: {shards_n} shards, {r['concurrency']} at once",
            f"{r['mapped']:.1f} s ({r['map_calls']} calls; API minimum {least * shards_n})",
        ),
        ("per shard in the Map: median / max", f"{statistics.median(per):.1f} s / {per[-1]:.1f} s"),
        (f"merge step ({shards_n} snapshots)", f"{r['merge']:.1f} s"),
        (
            "baseline: the CLI's inventory in one process",
            f"{r['one_process']:.1f} s ({r['baseline_calls']} calls)",
        ),
        (
            "Map items (the `shards` step's output)",
            f"{r['shards_bytes']} bytes ({r['shards_bytes'] / shards_n:.0f} per shard)",
        ),
        (
            "one shard's snapshot record in S3",
            f"{r['record_bytes']} bytes ({r['record_bytes'] / services:.0f} per service)",
        ),
    ]
    lines += ["", "| | measured |", "|---|---:|"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    return "\n".join([*lines, "", extrapolate(r, paced)])


def extrapolate(r: dict[str, Any], paced: float) -> str:
    """1,000 accounts x the measured Regions and services per shard, through the Map."""
    shards_org = ORG_ACCOUNTS * len(REGIONS)
    waves = math.ceil(shards_org / MAP_CONCURRENCY)
    # What one shard takes above its pacer floor (reads that cannot overlap, latency, S3).
    overhead = max(0.0, r["alone"] - paced)
    shard = paced + overhead
    calls = shards_org * sum(r["alone_calls"].values())
    rows = [
        (
            f"per shard (its own buckets: pacer floor {paced:.1f} s + {overhead:.1f} s measured)",
            f"{shard:.1f} s",
        ),
        (
            f"the Map: {waves} rounds of {MAP_CONCURRENCY}",
            f"{waves * shard / 60:.1f} min + Lambda start-up per round",
        ),
        (
            f"merge ({shards_org:,} GetObject, at the measured rate)",
            f"{r['merge'] / r['shards'] * shards_org:.0f} s",
        ),
        ("AWS calls (every account its own buckets)", f"{calls:,}"),
        (
            f"history events (limit {MAX_HISTORY:,})",
            f"{EVENTS_FIXED + EVENTS_PER_SHARD * shards_org:,} without retries",
        ),
        (
            "Map items (limit 256 KiB)",
            f"{r['shards_bytes'] / r['shards'] * shards_org / 1024:.0f} KiB",
        ),
        ("merged snapshot record", f"{r['record_bytes'] * shards_org / 1e6:.0f} MB"),
    ]
    lines = [
        f"Extrapolated to {ORG_ACCOUNTS:,} accounts x {len(REGIONS)} Regions = {shards_org:,} "
        f"shards of {r['services']} services ({shards_org * r['services']:,} services), "
        f"MaxConcurrency {MAP_CONCURRENCY}:",
        "",
        f"| | {ORG_ACCOUNTS:,} accounts |",
        "|---|---:|",
    ]
    return "\n".join(lines + [f"| {label} | {value} |" for label, value in rows])


def write_results(report: str) -> None:
    """Replace the measured section of docs/scale.md (between its bench markers)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        "<!-- bench/shards.py: begin -->\n"
        f"Command: `.venv/bin/python bench/shards.py` (measured {when}).\n\n{report}\n"
        "<!-- bench/shards.py: end -->"
    )
    text = SCALE_DOC.read_text(encoding="utf-8")
    pattern = re.compile(r"<!-- bench/shards.py: begin -->.*?<!-- bench/shards.py: end -->", re.S)
    assert pattern.search(text), f"{SCALE_DOC}: no bench markers"
    SCALE_DOC.write_text(pattern.sub(lambda _: section, text), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
