"""promote and rollback through the CLI entry point (in-process simulator, time at 600x)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from fleetpatch.cli.app import run
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config


@pytest.fixture
def fast_sim() -> Iterator[Simulator]:
    with Simulator(small_scenario(), time_scale=600) as simulator:
        yield simulator


@pytest.fixture
def config(fast_sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    return render_config(fast_sim, tmp_path / "fleetpatch.toml")


def test_promote_to_itself_is_refused_in_one_line(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["--config", str(config), "promote", "--from", "dev", "--to", "dev", "--yes"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "same environment" in err and len(err.splitlines()) == 1


def test_promote_refused_when_nothing_was_verified(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No second environment in this config: an unknown --to is one line, exit 2.
    code = run(["--config", str(config), "promote", "--from", "dev", "--to", "prod", "--yes"])
    assert code == 2
    assert "prod" in capsys.readouterr().err


def test_rollout_then_rollback_via_cli(
    fast_sim: Simulator, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config)]
    assert run([*base, "rollout", "--env", "dev", "--yes", "--poll-interval", "0.05"]) == 0
    capsys.readouterr()
    assert (
        run([*base, "rollback", "--env", "dev", "--yes", "--json", "--poll-interval", "0.05"]) == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "preflight"
    summary = lines[-1]
    assert summary["event"] == "rollback" and summary["found_in"] == "journal"
    assert summary["ok"] is True
    assert summary["digest"] == next(
        d for d, (_, _, tag) in fast_sim.images.items() if tag == "1.0-aaaaaaa"
    )


def test_rollback_in_a_terminal_shows_the_live_table(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["--config", str(config)]
    assert run([*base, "rollout", "--env", "dev", "--yes", "--poll-interval", "0.05"]) == 0
    capsys.readouterr()
    terminal = io.StringIO()
    monkeypatch.setattr(
        "fleetpatch.cli.promote.console", Console(file=terminal, force_terminal=True, width=120)
    )
    assert run([*base, "rollback", "--env", "dev", "--yes", "--poll-interval", "0.05"]) == 0
    table = terminal.getvalue()
    assert "main/api" in table and "verified" in table
    # the table replaced the plain lines; the closing lines still follow it
    assert "started deployment" not in capsys.readouterr().out
    assert "rolled back to" in table


def test_rollback_elsewhere_prints_plain_lines(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config)]
    assert run([*base, "rollout", "--env", "dev", "--yes", "--poll-interval", "0.05"]) == 0
    capsys.readouterr()
    assert run([*base, "rollback", "--env", "dev", "--yes", "--poll-interval", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "main/api: started deployment" in out and "rolled back to" in out
