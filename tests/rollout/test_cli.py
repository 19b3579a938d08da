"""The rollout commands through the CLI entry point (in-process simulator)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetpatch.cli.app import run
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config


@pytest.fixture
def config(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    return render_config(sim, tmp_path / "fleetpatch.toml")


def test_plan_json(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--config", str(config), "plan", "--env", "dev", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["target"]["chosen_by"] == "tag latest"
    assert plan["waves"][0]["canary"] is True
    assert [s["service"] for s in plan["waves"][0]["services"]] == ["main/api"]


def test_dry_run_changes_nothing(
    sim: Simulator, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.reset_calls()
    assert run(["--config", str(config), "rollout", "--env", "dev", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "ecs:UpdateService cluster=main service=api forceNewDeployment=true" in out
    assert "nothing was changed" in out
    assert not any(op in sim.calls for op in ("ecs:UpdateService", "ecs:RegisterTaskDefinition"))
    assert (
        not (config.parent / "journal.sqlite").exists()
        or run(["--config", str(config), "history", "--json"]) == 0
    )


def test_refuses_without_yes_when_not_a_terminal(
    sim: Simulator, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config), "rollout", "--env", "dev"]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert "ecs:UpdateService" not in sim.calls


@pytest.fixture
def fast_sim() -> Iterator[Simulator]:
    """Time runs at 600x: a 30-s task start takes 50 ms of the CLI's real-time polling."""
    with Simulator(small_scenario(), time_scale=600) as simulator:
        yield simulator


def test_json_stream_history_and_verify(
    fast_sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    config = render_config(fast_sim, tmp_path / "fleetpatch.toml")
    code = run(
        ["--config", str(config), "rollout", "--env", "dev", "--yes", "--json",
         "--poll-interval", "0.05"]
    )  # fmt: skip
    assert code == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "plan" and kinds[-1] == "finished"
    # AWS's rate limits, said before the first change.
    assert kinds[1] == "pacing" and events[1]["binding_limit"] is None
    assert all(e["rollout_id"] == events[0]["rollout_id"] for e in events)
    assert kinds.count("verified") == 3

    assert run(["--config", str(config), "history", "--env", "dev", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert {"plan", "deployment_started"} <= {e["kind"] for e in history}
    assert run(["--config", str(config), "journal", "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
