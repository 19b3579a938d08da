"""Shared fixtures: the simulator, seeded with the talk's scenario or a small one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.journal import SqliteJournal
from fleetpatch.sim import Simulator
from fleetpatch.sim.simulator import client

# A fresh machine: the tests talk to simulators only, which (like AWS) refuse keys they never
# issued, so the developer's own AWS credentials and profiles (environment, ~/.aws) are set
# aside for the test run and its subprocesses. fleetpatch then signs with the simulator's
# base credential (docs/config.md, "Simulator convenience").
for _name in (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
):
    os.environ.pop(_name, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

ROOT = Path(__file__).resolve().parent.parent
TALK_SCENARIO = ROOT / "examples" / "talk" / "scenario.yaml"
# The talk scenario's history is relative to its start; tests pin the start so that every
# date and day count they assert holds on any day they run (fix available 2026-11-20,
# due 2026-12-20, 23 days left).
TALK_NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def small_scenario(**overrides: Any) -> dict[str, Any]:
    """One environment, one cluster, three services, fluent-bit 1.0 running and 1.1 latest."""
    scenario: dict[str, Any] = {
        "now": "2026-11-27T09:00:00Z",
        "time_scale": 0,
        "task_start_seconds": 30,
        "environments": [
            {
                "name": "dev",
                "account": "111111111111",
                "region": "eu-west-1",
                "repositories": [
                    {
                        "name": "fluent-bit",
                        "images": [
                            {
                                "tags": ["1.0-aaaaaaa", "latest"],
                                "pushed_at": "2026-11-01T00:00:00Z",
                            },
                            {
                                "tags": ["1.1-bbbbbbb", "latest"],
                                "pushed_at": "2026-11-25T00:00:00Z",
                            },
                        ],
                    }
                ],
                "clusters": [
                    {
                        "name": "main",
                        "deployed_at": "2026-11-10T00:00:00Z",
                        "containers": [
                            {"name": "app", "image": "{registry}/{service}:1"},
                            {
                                "name": "log_router",
                                "image": "{registry}/fluent-bit:latest",
                                "firelens": "fluentbit",
                            },
                        ],
                        "services": ["api", "worker", "web"],
                    }
                ],
            }
        ],
    }
    scenario.update(overrides)
    return scenario


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(small_scenario()) as simulator:
        yield simulator


@pytest.fixture
def talk_sim() -> Iterator[Simulator]:
    with Simulator(TALK_SCENARIO, time_scale=0, now=TALK_NOW) as simulator:
        yield simulator


@pytest.fixture
def aws(sim: Simulator) -> Any:
    """Factory of boto3 clients into the small scenario's environments."""

    def make(service: str, environment: str = "dev") -> Any:
        return client(sim, service, environment)

    return make


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    """An empty journal in the test's directory."""
    with SqliteJournal(tmp_path / "journal.sqlite") as store:
        yield store
