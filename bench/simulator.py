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

AWS's rate limits are ON, as in every other benchmark. One account's reads are capped by its
token buckets (DescribeServices and DescribeTasks 20 a second each after their burst), so
the fleet is spread over `--accounts` accounts (20 by default: 3,000 services as 20 x 150),
each with its own buckets, and every client thread takes the accounts in turn: the buckets
then leave room above the simulator's own ceiling, and the "throttled" column shows whether
they bound anyway (clients make one attempt per call, no retries, so a throttled call is
counted, not hidden). `--rate-limits off` measures without them, one account.
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
from botocore.config import Config
from botocore.exceptions import ClientError

from fleetpatch.sim.process import free_port, served, wait_for_port
from fleets import fleet, service_names


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    calls_per_second: float  # answered, throttled ones included
    server_ms_per_call: float
    throttled: float = 0.0  # share of the calls AWS's buckets refused

    @property
    def capacity(self) -> float:
        """Calls a second one server core could answer at this CPU cost per call."""
        return 1000 / self.server_ms_per_call


def measure(
    server_pid: int, seconds: float, threads: int, make_call: Callable[[int], Callable[[], Any]]
) -> Measured:
    before = cpu_seconds(server_pid)
    calls, throttled, elapsed = run_for(seconds, threads, make_call)
    used = cpu_seconds(server_pid) - before
    return Measured(calls / elapsed, 1000 * used / calls, throttled / calls)


def run_for(
    seconds: float, threads: int, make_call: Callable[[int], Callable[[], Any]]
) -> tuple[int, int, float]:
    """(calls made, of which throttled, seconds taken), with `threads` workers each making
    calls in a loop."""
    counts = [0] * threads
    throttles = [0] * threads
    # Clients are made before the clock starts: making them (AssumeRole, boto3's loaders)
    # is not what is measured.
    calls = [make_call(index) for index in range(threads)]
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        call = calls[index]
        while time.monotonic() < stop:
            try:
                call()
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ThrottlingException":
                    raise
                throttles[index] += 1
            counts[index] += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(counts), sum(throttles), time.monotonic() - started


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


def mixed_calls(url: str, names: list[str], accounts: list[str]) -> Callable[[], Any]:
    """The inventory-shaped mix for one client thread: 4 ECS reads, then 1 ECR read, each
    call to the next account."""
    turns = []
    for account in accounts:
        ecs = assumed_client("ecs", url, account)
        ecr = assumed_client("ecr", url, account)
        turns.append(itertools.cycle([ecs_mix(ecs, names)] * 4 + [ecr_call(ecr)]))
    accounts_in_turn = itertools.cycle(turns)
    return lambda: next(next(accounts_in_turn))()


def across_accounts(
    make: Callable[[str], Callable[[], Any]], accounts: list[str]
) -> Callable[[], Any]:
    """One call per account in turn."""
    calls = itertools.cycle([make(account) for account in accounts])
    return lambda: next(calls)()


def mix_in_a_process(
    url: str, services: int, accounts: list[str], seconds: float, threads: int
) -> tuple[int, int, float]:
    """Run in a client process of its own (multiprocessing): (calls, throttled, seconds)."""
    names = service_names(services)
    return run_for(seconds, threads, lambda _: mixed_calls(url, names, accounts))


def measure_processes(
    server_pid: int,
    url: str,
    services: int,
    accounts: list[str],
    seconds: float,
    processes: int,
    threads: int,
) -> Measured:
    """The mix from several client processes at once, so one boto3 process's CPU is not the
    ceiling."""
    before = cpu_seconds(server_pid)
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        work = [(url, services, accounts, seconds, threads)] * processes
        results = pool.starmap(mix_in_a_process, work)
    used = cpu_seconds(server_pid) - before
    calls = sum(count for count, _, _ in results)
    throttled = sum(refused for _, refused, _ in results)
    elapsed = max(taken for _, _, taken in results)
    return Measured(calls / elapsed, 1000 * used / calls, throttled / calls)


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
        # One attempt: a throttled call is counted as such, not retried out of sight.
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--services", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--rate-limits",
        choices=("off", "aws"),
        default="aws",
        help="aws: under AWS's token buckets (default); off: without them, one account",
    )
    parser.add_argument(
        "--accounts", type=int, default=20, help="accounts the fleet is spread over (aws)"
    )
    args = parser.parse_args()

    count = args.accounts if args.rate_limits == "aws" else 1
    accounts = [f"{100000000000 + i:012d}" for i in range(count)]
    per_account = args.services // count
    scenario = Path(tempfile.mkdtemp()) / "fleet.yaml"
    environments = tuple((f"bench-{i:02d}", account) for i, account in enumerate(accounts))
    seeded_fleet = fleet(per_account, environments)
    seeded_fleet["faults"] = {"rate_limits": args.rate_limits}
    scenario.write_text(yaml.safe_dump(seeded_fleet))
    started = time.monotonic()
    # The simulator in its own process: the benchmark's boto3 clients must not share its
    # interpreter (and GIL), or they would measure boto3.
    with served(scenario) as server:
        seeded = time.monotonic() - started
        url = server.endpoint_url
        names = service_names(per_account)

        def ecs_reads(_: int) -> Callable[[], Any]:
            return across_accounts(
                lambda a: ecs_mix(assumed_client("ecs", url, a), names), accounts
            )

        def ecr_reads(_: int) -> Callable[[], Any]:
            return across_accounts(lambda a: ecr_call(assumed_client("ecr", url, a)), accounts)

        pid, seconds, threads = server.pid, args.seconds, args.threads
        mix = measure(pid, seconds, threads, lambda _: mixed_calls(url, names, accounts))
        mix_processes = measure_processes(
            pid, url, per_account, accounts, seconds, 2, threads // 2 or 1
        )
        ecs_only = measure(pid, seconds, threads, ecs_reads)
        ecr_only = measure(pid, seconds, threads, ecr_reads)
    moto_ecr = plain_moto_ecr(args.seconds, args.threads)

    print(
        f"fleet: {per_account * count} services x 2 tasks in {count} account(s), "
        f"served after {seeded:.1f} s"
    )
    print(f"client threads: {args.threads} (one process), {args.seconds:g} s per measurement")
    print(f"AWS's rate limits: {args.rate_limits}")
    print(f"{'':42} {'achieved':>10} {'throttled':>10} {'server CPU':>11} {'capacity':>10}")
    rows = [
        ("simulator, inventory mix (4 ECS : 1 ECR)", mix),
        ("  same mix from 2 client processes", mix_processes),
        ("simulator, ECS reads", ecs_only),
        ("simulator, ECR DescribeImages", ecr_only),
        ("baseline: plain moto, ECR DescribeImages", moto_ecr),
    ]
    for label, row in rows:
        print(
            f"{label:42} {row.calls_per_second:7.0f}/s {100 * row.throttled:9.1f}%"
            f" {row.server_ms_per_call:8.2f} ms {row.capacity:7.0f}/s"
        )


if __name__ == "__main__":
    main()
