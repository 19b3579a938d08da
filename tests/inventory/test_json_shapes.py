"""The `status --json`, `trace --json` and `hold --json` documents have exactly the keys
docs/json.md documents: a key added or renamed here must be added or renamed there too.
Key sets only; the values are tested with the commands (test_inventory, test_lifecycle_hold).

The talk's scenario, because it has everything at once: a critical finding with a fix (so
`deadlines` is not empty), a version running in every environment, and digests to hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.sim import Simulator
from tests.inventory.helpers import render_config

DEADLINE = {
    "environment",
    "vulnerability_id",
    "severity",
    "services",
    "fix_available",
    "deadline",
    "days_left",
    "line",
}
STATUS_ROW = {
    "environment",
    "sidecar",
    "error",
    "services",
    "drifting",
    "not_running",
    "unresolvable",
    "tag_now",
    "versions",
    "oldest",
}
VERSION = {"label", "digest", "services", "tasks", "pushed_at"}
OLDEST = {"label", "digest", "pushed_at", "age_days"}
TRACE_HIT = {
    "environment",
    "cluster",
    "service",
    "sidecar",
    "container",
    "digest",
    "tags",
    "tasks",
    "task_ids",
}
HOLD_ACTION = {"environment", "repository", "digest", "tag", "action", "detail"}


def json_of(sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    config = render_config(sim, tmp_path / "fleetpatch.toml")
    code = run(["--config", str(config), *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_status_keys(
    talk_sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json_of(talk_sim, tmp_path, capsys, "status")
    assert set(data) == {
        "taken_at",
        "api_calls",
        "deadlines",
        "status",
        "lifecycle_risks",
        "not_patchable",
    }
    assert data["deadlines"], "the talk's scenario has an open CVE-2024-4323 deadline"
    for deadline in data["deadlines"]:
        assert set(deadline) == DEADLINE
    assert data["status"]
    for row in data["status"]:
        assert set(row) == STATUS_ROW
        assert row["versions"] and row["oldest"] is not None
        for version in row["versions"]:
            assert set(version) == VERSION
        assert set(row["oldest"]) == OLDEST


def test_trace_keys(
    talk_sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json_of(talk_sim, tmp_path, capsys, "trace", "3.0.3")
    assert set(data) == {"query", "api_calls", "hits"}
    assert data["hits"]
    for hit in data["hits"]:
        assert set(hit) == TRACE_HIT


@pytest.mark.parametrize("dry_run", [True, False])
def test_hold_keys(
    talk_sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], dry_run: bool
) -> None:
    data = json_of(talk_sim, tmp_path, capsys, "hold", *(["--dry-run"] if dry_run else []))
    assert set(data) == {"dry_run", "api_calls", "actions", "still_at_risk"}
    assert data["actions"]
    for action in data["actions"] + data["still_at_risk"]:
        assert set(action) == HOLD_ACTION
