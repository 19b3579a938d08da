"""A long rollout on Step Functions (issue 11 item 2): 300 blue/green services whose
deployments take over an hour each, run through the rollout and wave state machines, against
Step Functions' and Lambda's limits.

    .venv/bin/python bench/workflow.py                       # 300 services, ~3 minutes
    .venv/bin/python bench/workflow.py --max-parallel 1 --services 40   # one wave per service

The definitions (src/fleetpatch/workflow/*.asl.json) run state by state in the tests' ASL
interpreter (tests/workflow/asl.py), each Task calling the steps' Lambda handler in-process
against the simulator, with the simulator's clock frozen: a Wait state advances it (simulated
time), AWS's token buckets still refill in real time, so the API calls are paced for real.
Every service is BLUE_GREEN with `bakeTimeInMinutes` 60, new tasks taking
`--task-start-seconds` to run: a deployment takes a little over an hour, the whole rollout
`waves` hours.

Measured per run: the simulated duration of the rollout; each execution's history events
(limit 25,000 per execution, Standard workflows); the largest state payload (limit 256 KiB);
the longest step, real seconds in one Lambda invocation (limit 900 s), by step; Lambda
invocations and AWS calls.

Baseline, in the same run: the CLI's loop in one Lambda function (`fleetpatch rollout`'s
executor: start a wave, sleep, poll), whose one invocation would last the whole simulated
rollout, against Lambda's 900 s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetpatch.config import Config, load_config
from fleetpatch.journal import EntryKind, SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.workflow.aws_lambda import make_handler
from fleets import REGION, fleet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.workflow.asl import MAX_HISTORY, MAX_PAYLOAD, Interpreter

ACCOUNT = "111111111111"
LAMBDA_TIMEOUT = 900.0
ROLLOUT_ID = "r-bench0000001"


@dataclass
class Steps:
    """The steps' Lambda handler, timed per invocation."""

    handler: Any
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    invocations: int = 0

    def __call__(self, payload: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return self.handler(payload, None)
        finally:
            self.invocations += 1
            step = str(payload.get("step"))
            self.seconds[step] = max(self.seconds[step], time.perf_counter() - started)


def write_config(sim: Simulator, directory: Path, max_parallel: int) -> Config:
    text = (
        f'journal = "{directory / "journal.sqlite"}"\n\n'
        '[[sidecars]]\nname = "fluent-bit"\nrepository = "fluent-bit"\ncontainer = "log_router"\n\n'
        f'[[environments]]\nname = "bench"\naccount_id = "{ACCOUNT}"\nregion = "{REGION}"\n'
        f'endpoint_url = "{sim.endpoint_url}"\n'
        f'credentials = {{ role_arn = "arn:aws:iam::{ACCOUNT}:role/fleetpatch" }}\n\n'
        f"[policy]\nmax_parallel = {max_parallel}\ncanary = 1\n"
    )
    path = directory / "fleetpatch.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def blue_green_fleet(services: int, task_start_seconds: float) -> dict[str, Any]:
    scenario = fleet(services, (("bench", ACCOUNT),), task_start_seconds=task_start_seconds)
    for cluster in scenario["environments"][0]["clusters"]:
        for service in cluster["services"]:
            service.update(strategy="BLUE_GREEN", bake_time_in_minutes=60)
    return scenario


def run(args: argparse.Namespace) -> dict[str, Any]:
    scenario = blue_green_fleet(args.services, args.task_start_seconds)
    with Simulator(scenario) as sim, tempfile.TemporaryDirectory() as directory:
        config = write_config(sim, Path(directory), args.max_parallel)
        steps = Steps(
            make_handler(now=sim.clock.now, notifier=lambda c, r: None, config=lambda: config)
        )
        machines = Interpreter(steps, sim.advance)
        request = {
            "rollout_id": ROLLOUT_ID,
            "environment": "bench",
            "sidecar": None,
            "digest": None,
            "tag": "latest",
            "actor": "bench",
            "source": "bench",
            "request_id": None,
        }
        sim.reset_calls()
        began_sim, began = sim.clock.now(), time.perf_counter()
        # The steps log their events to stdout, one JSON line each, as in Lambda: not here.
        with contextlib.redirect_stdout(io.StringIO()):
            execution = machines.start("rollout", ROLLOUT_ID, request)
        real = time.perf_counter() - began
        simulated = (sim.clock.now() - began_sim).total_seconds()
        if execution.status != "SUCCEEDED":
            sys.exit(f"the rollout did not succeed: {execution.error}")
        with SqliteJournal(Path(directory) / "journal.sqlite") as journal:
            deployed = [
                e.service
                for e in journal.entries(kind=EntryKind.DEPLOYMENT_STARTED.value)
                if e.rollout_id == ROLLOUT_ID
            ]
        if len(deployed) != args.services or len(set(deployed)) != args.services:
            sys.exit(f"{len(deployed)} deployments for {args.services} services")
        children = [e for n, e in machines.executions.items() if n != ROLLOUT_ID]
        return {
            "services": args.services,
            "max_parallel": args.max_parallel,
            "verified": len(execution.output["verified"]),
            "waves": len(children),
            "simulated_hours": simulated / 3600,
            "real_seconds": real,
            "parent_events": execution.history_events,
            "largest_child_events": max(c.history_events for c in children),
            "largest_payload": machines.largest_payload,
            "longest_step": dict(steps.seconds),
            "invocations": steps.invocations,
            "aws_calls": sum(sim.calls.values()),
        }


def render(m: dict[str, Any]) -> str:
    longest = max(m["longest_step"].values())
    slowest = max(m["longest_step"], key=m["longest_step"].get)
    baseline = m["simulated_hours"] * 3600
    rows = [
        (
            "services / waves (max_parallel)",
            f"{m['services']} / {m['waves']} ({m['max_parallel']})",
        ),
        ("services verified", str(m["verified"])),
        ("rollout duration (simulated)", f"{m['simulated_hours']:.1f} h"),
        (
            "history events: rollout execution",
            f"{m['parent_events']:,} (limit {MAX_HISTORY:,})",
        ),
        (
            "history events: largest wave execution",
            f"{m['largest_child_events']:,} (limit {MAX_HISTORY:,})",
        ),
        (
            "largest state payload",
            f"{m['largest_payload'] / 1024:.1f} KiB (limit {MAX_PAYLOAD // 1024} KiB)",
        ),
        (
            "longest step (one Lambda invocation)",
            f"{longest:.1f} s, {slowest} (limit {LAMBDA_TIMEOUT:.0f} s)",
        ),
        ("Lambda invocations / AWS calls", f"{m['invocations']:,} / {m['aws_calls']:,}"),
        (
            "baseline: the CLI loop in one Lambda",
            f"one invocation of {baseline:,.0f} s ({baseline / LAMBDA_TIMEOUT:.0f} x the limit)",
        ),
    ]
    lines = ["| | |", "|---|---:|"] + [f"| {label} | {value} |" for label, value in rows]
    lines.append(
        "\nlongest step by step: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(m["longest_step"].items()))
        + f"; the bench ran {m['real_seconds']:.0f} s"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--max-parallel", type=int, default=50)
    parser.add_argument("--task-start-seconds", type=float, default=120.0)
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    args = parser.parse_args()
    measured = run(args)
    print(json.dumps(measured, indent=2) if args.json else render(measured))
    within = (
        measured["parent_events"] < MAX_HISTORY
        and measured["largest_child_events"] < MAX_HISTORY
        and measured["largest_payload"] < MAX_PAYLOAD
        and max(measured["longest_step"].values()) < LAMBDA_TIMEOUT
    )
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
