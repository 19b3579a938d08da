"""How many ECS/ECR calls a second the simulator answers (issue 2's target: at least 500).

    .venv/bin/python bench/simulator.py [--services 3000] [--seconds 5] [--threads 4]

Seeds a fleet of N services x 2 tasks in one environment, then runs a read mix like an
inventory's (DescribeServices in tens, ListTasks, DescribeTasks, DescribeTaskDefinition, ECR
DescribeImages) from several client threads for a fixed time, and prints calls per second for
the mix, for ECS alone, and for ECR alone. Plain moto's ECR, in its own process, is measured
the same way beside it as the baseline.

The simulator runs in its own process (as `fleetpatch sim serve`); "achieved" is what this
process's boto3 clients got out of it, and "capacity" is 1 / (the server's CPU time per call):
what one core of the simulator answers when the client is not the bottleneck.

AWS's rate limits are OFF here by default (`faults: {rate_limits: off}`): with them on, as in
every other benchmark, one account's reads are capped by its token buckets (DescribeServices
and DescribeTasks 20 a second each after their burst), so the figures would measure the
buckets, not the simulator. `--rate-limits aws` seeds the same fleet with them on (not
measured for docs/benchmarks.md: its plain boto3 clients, unpaced, would be throttled).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

from fleetpatch.sim.process import free_port, served, wait_for_port
from fleets import fleet, service_names


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    calls_per_second: float
    server_ms_per_call: float

    @property
    def capacity(self) -> float:
        """Calls a second one server core could answer at this CPU cost per call."""
        return 1000 / self.server_ms_per_call


def measure(
    server_pid: int, seconds: float, threads: int, make_call: Callable[[int], Callable[[], Any]]
) -> Measured:
    before = cpu_seconds(server_pid)
    calls, elapsed = run_for(seconds, threads, make_call)
    used = cpu_seconds(server_pid) - before
    return Measured(calls / elapsed, 1000 * used / calls)


def run_for(
    seconds: float, threads: int, make_call: Callable[[int], Callable[[], Any]]
) -> tuple[int, float]:
    """(calls made, seconds taken), with `threads` workers each making calls in a loop."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        call = make_call(index)
        while time.monotonic() < stop:
            call()
            counts[index] += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(counts), time.monotonic() - started


def ecs_mix(ecs: Any, service_names: list[str]) -> Callable[[], Any]:
    names = itertools.cycle(range(0, len(service_names), 10))
    step = itertools.cycle(range(4))

    def call() -> Any:
        start = next(names)
        batch = service_names[start : start + 10]
        kind = next(step)
        if kind == 0:
            return ecs.describe_services(cluster="main", services=batch)
        if kind == 1:
            return ecs.list_tasks(cluster="main", serviceName=batch[0])
        if kind == 2:
            arns = ecs.list_tasks(cluster="main", serviceName=batch[-1])["taskArns"]
            return ecs.describe_tasks(cluster="main", tasks=arns)
        return ecs.describe_task_definition(taskDefinition=batch[0])

    return call


def ecr_call(ecr: Any) -> Callable[[], Any]:
    return lambda: ecr.describe_images(repositoryName="fluent-bit")


def mixed_calls(url: str, names: list[str]) -> Callable[[], Any]:
    """The inventory-shaped mix for one client thread: 4 ECS reads, then 1 ECR read."""
    ecs = assumed_client("ecs", url, "111111111111")
    ecr = assumed_client("ecr", url, "111111111111")
    turn = itertools.cycle([ecs_mix(ecs, names)] * 4 + [ecr_call(ecr)])
    return lambda: next(turn)()


def mix_in_a_process(url: str, services: int, seconds: float, threads: int) -> tuple[int, float]:
    """Run in a client process of its own (multiprocessing): (calls made, seconds taken)."""
    names = service_names(services)
    return run_for(seconds, threads, lambda _: mixed_calls(url, names))


def measure_processes(
    server_pid: int, url: str, services: int, seconds: float, processes: int, threads: int
) -> Measured:
    """The mix from several client processes at once, so one boto3 process's CPU is not the
    ceiling."""
    before = cpu_seconds(server_pid)
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = pool.starmap(mix_in_a_process, [(url, services, seconds, threads)] * processes)
    used = cpu_seconds(server_pid) - before
    calls = sum(count for count, _ in results)
    elapsed = max(taken for _, taken in results)
    return Measured(calls / elapsed, 1000 * used / calls)


def plain_moto_ecr(seconds: float, threads: int) -> Measured:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=process)
        url = f"http://127.0.0.1:{port}"

        def make(_: int) -> Any:
            return boto3.client(
                "ecr",
                endpoint_url=url,
                region_name="eu-west-1",
                aws_access_key_id="x",
                aws_secret_access_key="x",
            )

        first = make(0)
        first.create_repository(repositoryName="fluent-bit")
        for tag in ("1.0", "1.1"):
            first.put_image(
                repositoryName="fluent-bit",
                imageManifest='{"schemaVersion": 2, "mediaType": '
                '"application/vnd.docker.distribution.manifest.v2+json", "t": "' + tag + '"}',
                imageTag=tag,
            )
        return measure(process.pid, seconds, threads, lambda i: ecr_call(make(i)))
    finally:
        process.terminate()
        process.wait(timeout=10)


def assumed_client(service: str, url: str, account: str) -> Any:
    sts = boto3.client(
        "sts",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="fleetpatch-sim",
        aws_secret_access_key="x",
    )
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/fleetpatch", RoleSessionName="bench"
    )["Credentials"]
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--services", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--rate-limits",
        choices=("off", "aws"),
        default="off",
        help="off: the simulator's own capacity (default); aws: under AWS's token buckets",
    )
    args = parser.parse_args()

    scenario = Path(tempfile.mkdtemp()) / "fleet.yaml"
    seeded_fleet = fleet(args.services)
    seeded_fleet["faults"] = {"rate_limits": args.rate_limits}
    scenario.write_text(yaml.safe_dump(seeded_fleet))
    started = time.monotonic()
    # The simulator in its own process: the benchmark's boto3 clients must not share its
    # interpreter (and GIL), or they would measure boto3.
    with served(scenario) as server:
        seeded = time.monotonic() - started
        url = server.endpoint_url
        names = service_names(args.services)
        clients = [
            (assumed_client("ecs", url, "111111111111"), assumed_client("ecr", url, "111111111111"))
            for _ in range(args.threads)
        ]

        pid, seconds, threads = server.pid, args.seconds, args.threads
        mix = measure(pid, seconds, threads, lambda _: mixed_calls(url, names))
        mix_processes = measure_processes(pid, url, args.services, seconds, 2, threads // 2 or 1)
        ecs_only = measure(pid, seconds, threads, lambda i: ecs_mix(clients[i][0], names))
        ecr_only = measure(pid, seconds, threads, lambda i: ecr_call(clients[i][1]))
    moto_ecr = plain_moto_ecr(args.seconds, args.threads)

    print(f"fleet: {args.services} services x 2 tasks, served after {seeded:.1f} s")
    print(f"client threads: {args.threads} (one process), {args.seconds:g} s per measurement")
    print(f"AWS's rate limits: {args.rate_limits}")
    print(f"{'':42} {'achieved':>10} {'server CPU':>11} {'capacity':>10}")
    rows = [
        ("simulator, inventory mix (4 ECS : 1 ECR)", mix),
        ("  same mix from 2 client processes", mix_processes),
        ("simulator, ECS reads", ecs_only),
        ("simulator, ECR DescribeImages", ecr_only),
        ("baseline: plain moto, ECR DescribeImages", moto_ecr),
    ]
    for label, row in rows:
        print(
            f"{label:42} {row.calls_per_second:7.0f}/s {row.server_ms_per_call:8.2f} ms"
            f" {row.capacity:7.0f}/s"
        )


if __name__ == "__main__":
    main()
