"""How many ECS/ECR calls a second the simulator answers (issue 2's target: at least 500).

    .venv/bin/python bench/simulator.py [--services 3000] [--seconds 5] [--threads 4]

Seeds a fleet of N services x 2 tasks in one environment, then runs a read mix like an
inventory's (DescribeServices in tens, ListTasks, DescribeTasks, DescribeTaskDefinition, ECR
DescribeImages) from several client threads for a fixed time, and prints calls per second for
the mix, for ECS alone, and for ECR alone. Plain moto's ECR, in its own process, is measured
the same way beside it as the baseline.
"""

from __future__ import annotations

import argparse
import itertools
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3

from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client


def fleet(services: int) -> dict[str, Any]:
    return {
        "now": "2026-11-27T09:00:00Z",
        "time_scale": 0,
        "environments": [
            {
                "name": "bench",
                "account": "111111111111",
                "region": "eu-west-1",
                "repositories": [
                    {
                        "name": "fluent-bit",
                        "images": [
                            {"tags": ["1.0", "latest"], "pushed_at": "2026-11-01T00:00:00Z"},
                            {"tags": ["1.1", "latest"], "pushed_at": "2026-11-25T00:00:00Z"},
                        ],
                    }
                ],
                "clusters": [
                    {
                        "name": "main",
                        "deployed_at": "2026-11-10T00:00:00Z",
                        "containers": [
                            {"name": "app", "image": "{registry}/{service}:1"},
                            {"name": "log_router", "image": "{registry}/fluent-bit:latest"},
                        ],
                        "services": [f"svc-{i:04d}" for i in range(services)],
                    }
                ],
            }
        ],
    }


def run_for(seconds: float, threads: int, make_call: Callable[[int], Callable[[], Any]]) -> float:
    """Calls per second over `seconds`, with `threads` workers each making calls in a loop."""
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
    return sum(counts) / (time.monotonic() - started)


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plain_moto_ecr(seconds: float, threads: int) -> float:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
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
        return run_for(seconds, threads, lambda i: ecr_call(make(i)))
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    started = time.monotonic()
    with Simulator(fleet(args.services)) as sim:
        seeded = time.monotonic() - started
        names = [f"svc-{i:04d}" for i in range(args.services)]
        clients = [
            (client(sim, "ecs", "bench"), client(sim, "ecr", "bench")) for _ in range(args.threads)
        ]

        def mixed(index: int) -> Callable[[], Any]:
            ecs, ecr = clients[index]
            ecs_part, ecr_part = ecs_mix(ecs, names), ecr_call(ecr)
            turn = itertools.cycle([ecs_part] * 4 + [ecr_part])  # inventory-like: mostly ECS
            return lambda: next(turn)()

        mix = run_for(args.seconds, args.threads, mixed)
        ecs_only = run_for(args.seconds, args.threads, lambda i: ecs_mix(clients[i][0], names))
        ecr_only = run_for(args.seconds, args.threads, lambda i: ecr_call(clients[i][1]))
    moto_ecr = plain_moto_ecr(args.seconds, args.threads)

    print(f"fleet: {args.services} services x 2 tasks, seeded in {seeded:.1f} s")
    print(f"threads: {args.threads}, {args.seconds:g} s per measurement")
    print(f"simulator, inventory mix (4 ECS : 1 ECR): {mix:7.0f} calls/s")
    print(f"simulator, ECS reads only:                {ecs_only:7.0f} calls/s")
    print(f"simulator, ECR DescribeImages only:       {ecr_only:7.0f} calls/s")
    print(f"baseline: plain moto, ECR DescribeImages:  {moto_ecr:7.0f} calls/s")


if __name__ == "__main__":
    main()
