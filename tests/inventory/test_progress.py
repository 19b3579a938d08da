"""Progress while the fleet is read: `collect(progress=...)` and the CLI's transient status
line, which only a terminal sees."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from fleetpatch.cli import collecting
from fleetpatch.cli.app import run
from fleetpatch.config import load_config
from fleetpatch.inventory.collect import CollectProgress, collect
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import add_prod, make_config, make_unreadable, render_config


def test_collect_reports_environments_and_services(tmp_path: Path) -> None:
    seen: list[CollectProgress] = []
    with Simulator(add_prod(small_scenario())) as sim:
        collect(make_config(sim, tmp_path), progress=seen.append)
    assert seen[0] == CollectProgress(environments_done=0, environments_total=2, services_read=0)
    assert seen[-1] == CollectProgress(environments_done=2, environments_total=2, services_read=6)
    # Never backwards, although environments and clusters are read in parallel.
    done = [(p.environments_done, p.services_read) for p in seen]
    assert done == sorted(done, key=lambda d: d[0]) and done == sorted(done, key=lambda d: d[1])


def test_an_unreadable_environment_still_counts_as_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[CollectProgress] = []
    with Simulator(add_prod(small_scenario())) as sim:
        config = render_config(sim, tmp_path / "fleetpatch.toml")
        make_unreadable(config, "333333333333", monkeypatch)
        collect(load_config(config), progress=seen.append)
    assert seen[-1] == CollectProgress(environments_done=2, environments_total=2, services_read=3)


def test_no_progress_when_stderr_is_not_a_terminal(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = render_config(sim, tmp_path / "fleetpatch.toml")
    assert run(["--config", str(config), "inventory", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["environments"]
    assert err == ""  # exactly as before: no status frames in a pipe


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("command", [["inventory"], ["status"], ["trace", "1.0"], ["hold"]])
def test_a_terminal_sees_a_transient_status(
    sim: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    terminal = _Terminal()
    console = Console(file=terminal, force_terminal=True, width=100)
    monkeypatch.setattr(collecting, "err_console", console)
    config = render_config(sim, tmp_path / "fleetpatch.toml")
    assert run(["--config", str(config), *command, "--json"]) == 0
    out, _ = capsys.readouterr()
    json.loads(out)  # stdout untouched: still one JSON document
    assert "reading the fleet: 1/1 environments, 3 services" in terminal.getvalue()
