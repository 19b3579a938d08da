"""Rollouts as real processes against a simulator served by another process: kill -9 at
random points then rerun, and two rollouts of one environment at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from fleetpatch.aws.session import AwsSessions
from fleetpatch.config import load_config
from fleetpatch.sim.process import served as serve_simulator
from tests.conftest import small_scenario

SERVICES = ["api", "web", "worker", "billing", "search", "mailer"]
TIME_SCALE = 60  # a 30-s task start takes 0.5 s


def _fleetpatch(*args: str) -> list[str]:
    return [sys.executable, "-m", "fleetpatch", *args]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    """A simulator in its own process and a fleetpatch.toml (with its journal) pointing at it."""
    yield from _serve(tmp_path, TIME_SCALE)


@pytest.fixture
def slow_served(tmp_path: Path) -> Iterator[Path]:
    """As `served`, in real time: a deployment takes its 30 s, so a signal finds it running."""
    yield from _serve(tmp_path, 1)


def _serve(tmp_path: Path, time_scale: float) -> Iterator[Path]:
    # The simulated AWS clock starts at the real time, as AWS's does (the rollout journals its
    # intents in AWS's clock, from the Date header, and compares them with ECS's createdAt).
    scenario = small_scenario(now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    scenario["environments"][0]["clusters"][0]["services"] = SERVICES
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(yaml.safe_dump(scenario), encoding="utf-8")
    with serve_simulator(scenario_file, time_scale=time_scale) as simulator:
        config = tmp_path / "fleetpatch.toml"
        config.write_text(
            f"""journal = "journal.sqlite"
[[sidecars]]
name = "fluent-bit"
repository = "fluent-bit"
container = "log_router*"

[[environments]]
name = "dev"
account_id = "111111111111"
region = "eu-west-1"
endpoint_url = "{simulator.endpoint_url}"
credentials = {{ role_arn = "arn:aws:iam::111111111111:role/fleetpatch" }}

[policy]
canary = 1
max_parallel = 2
""",
            encoding="utf-8",
        )
        yield config


def _rollout(config: Path) -> list[str]:
    return _fleetpatch(
        "--config",
        str(config),
        "rollout",
        "--env",
        "dev",
        "--yes",
        "--json",
        "--poll-interval",
        "0.1",
        "--lock-ttl",
        "1",
    )


def _run_until_unlocked(config: Path) -> subprocess.CompletedProcess[str]:
    """Run the rollout to its end; a lock left by a killed run expires within its ttl."""
    for _ in range(20):
        done = subprocess.run(_rollout(config), capture_output=True, text=True, timeout=120)
        if done.returncode == 2 and "is locked by" in done.stderr:
            time.sleep(0.3)
            continue
        return done
    raise AssertionError("the lock never expired")


def _deployments(config: Path) -> dict[str, int]:
    ecs = AwsSessions(load_config(config)).get("dev").ecs()
    return {
        name: len(ecs.list_service_deployments(cluster="main", service=name)["serviceDeployments"])
        for name in SERVICES
    }


def _digests(config: Path) -> dict[str, set[str]]:
    ecs = AwsSessions(load_config(config)).get("dev").ecs()
    found: dict[str, set[str]] = {}
    for name in SERVICES:
        arns = ecs.list_tasks(cluster="main", serviceName=name)["taskArns"]
        tasks = ecs.describe_tasks(cluster="main", tasks=arns)["tasks"]
        found[name] = {
            c["imageDigest"] for t in tasks for c in t["containers"] if c["name"] == "log_router"
        }
    return found


def _push_new_latest(config: Path, n: int) -> None:
    """Give the fleet a new target: push an image tagged `latest` through the control API."""
    endpoint = load_config(config).environment("dev").endpoint_url
    body = {
        "environment": "dev",
        "repository": "fluent-bit",
        "image": {"tags": [f"1.{n + 1}-{n:07d}", "latest"]},
    }
    request = urllib.request.Request(
        f"{endpoint}/_sim/push", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def _started_per_service_and_target(config: Path) -> Counter[tuple[str, str]]:
    from fleetpatch.journal import EntryKind, SqliteJournal

    with SqliteJournal(config.parent / "journal.sqlite") as journal:
        return Counter(
            (e.service or "", e.target_digest or "")
            for e in journal.entries(environment="dev")
            if e.kind is EntryKind.DEPLOYMENT_STARTED
        )


# Where a run is killed, chosen from its own progress (its --json events, each written after
# what it reports is journaled): (event, how many of them the run has written). A kill right
# after `deployment_requested` lands between the intent and the journaled answer - before
# UpdateService, while it is in flight, or after ECS applied it and before the answer is
# journaled: the rerun must find that deployment, not start a second one.
KILL_POINTS = [
    ("plan", 1),
    ("wave_started", 1),
    ("deployment_requested", 1),
    ("deployment_started", 1),
    ("deployment_progress", 1),
    ("verified", 1),
    ("wave_started", 2),
    ("deployment_requested", 2),
    ("deployment_requested", 3),
    ("deployment_started", 2),
    ("verified", 2),
    ("wave_finished", 2),
    ("deployment_requested", 5),
    ("verified", 4),
]


def _kill_at(config: Path, point: tuple[str, int], log: Path) -> bool:
    """Run the rollout and kill -9 it right after its `point` event; False if it ended first
    (its stderr is left in `log`, for the assertion's message)."""
    kind, count = point
    with log.open("w") as stderr:
        process = subprocess.Popen(
            _rollout(config), stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        assert process.stdout is not None
        seen = 0
        for line in process.stdout:
            if json.loads(line).get("event") == kind:
                seen += 1
                if seen == count:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
                    return True
        process.wait()
    return False


def test_kill_9_at_points_of_its_progress_then_rerun_converges(
    served: Path, tmp_path: Path
) -> None:
    reached: list[tuple[str, int]] = []
    missed: list[str] = []
    targets = 1
    log = tmp_path / "stderr.txt"
    for point in KILL_POINTS:
        # A run that ends before the point converged: give the fleet a new target and try again.
        for _ in range(4):
            if _kill_at(served, point, log):
                reached.append(point)
                break
            missed.append(f"{point}: {log.read_text().strip()[-300:]}")
            _push_new_latest(served, targets)
            targets += 1
    # Every kill point was reached (the killed run's lock is taken over at once: its holder
    # is a dead process on this host).
    assert reached == KILL_POINTS, "\n".join(missed)

    final = _run_until_unlocked(served)
    assert final.returncode == 0, final.stderr
    assert '"event": "finished"' in final.stdout
    # every service on the last target ...
    digests = _digests(served)
    assert len(set().union(*digests.values())) == 1
    # ... each deployed exactly once per target: one ECS deployment and one journal record
    assert _deployments(served) == dict.fromkeys(SERVICES, 1 + targets)
    # ... and journaled as started exactly once per target, even when a run was killed between
    # UpdateService and its journal append (the rerun journals that deployment as adopted).
    started = _started_per_service_and_target(served)
    assert len(started) == len(SERVICES) * targets
    assert set(started.values()) == {1}
    verify = subprocess.run(
        _fleetpatch("--config", str(served), "journal", "verify", "--json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert '"ok": true' in verify.stdout


def test_two_rollouts_at_once_exactly_one_proceeds(served: Path) -> None:
    first, second = (
        subprocess.Popen(
            _rollout(served), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    )
    results = [(*p.communicate(timeout=120), p.returncode) for p in (first, second)]
    codes = sorted(code for _, _, code in results)
    assert codes == [0, 2], results
    refused = next(err for _, err, code in results if code == 2)
    assert "environment 'dev' is locked by" in refused
    assert "pid" in refused
    assert _deployments(served) == dict.fromkeys(SERVICES, 2)


def test_ctrl_c_starts_nothing_new_and_says_how_to_resume_or_abort(slow_served: Path) -> None:
    served = slow_served
    # PYTHONFAULTHANDLER: a run that does not stop is made to show where it waits.
    environ = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    process = subprocess.Popen(
        _rollout(served), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ
    )
    assert process.stdout is not None
    # Interrupt as soon as the canary's deployment has started (its event is on stdout).
    for line in process.stdout:
        if json.loads(line)["event"] == "deployment_started":
            process.send_signal(signal.SIGINT)
            break
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, err = process.communicate(timeout=30)
        raise AssertionError(f"still running 60 s after Ctrl-C:\n{err[-6000:]}") from None
    assert process.returncode == 130, err
    assert "interrupted: no new deployment is started" in err
    assert "still deploying: main/api (deployment ecs-svc/" in err
    assert "fleetpatch rollout --env dev" in err and "fleetpatch abort --env dev" in err
    assert "Traceback" not in err
    # Only the canary was deployed: the scenario's deployment plus one for api.
    assert _deployments(served) == {name: 2 if name == "api" else 1 for name in SERVICES}
