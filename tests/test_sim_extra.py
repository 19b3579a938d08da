"""The simulator is an extra: with moto, Flask, Werkzeug and PyYAML missing (as after a plain
`pip install fleetpatch`), every command but the simulator's works, and `fleetpatch sim
serve` and the demo say in one line how to install it.

Building a venv per test is too slow: each check runs in a subprocess whose imports refuse
the simulator's dependencies (a sys.meta_path finder), as a Python without them would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import fleetpatch
from fleetpatch.sim import Simulator
from fleetpatch.sim_extra import SIM_EXTRA_MISSING
from tests.inventory.helpers import render_config

SRC = Path(fleetpatch.__file__).resolve().parents[1]
ROOT = Path(__file__).resolve().parents[1]
SIM_ONLY = ("moto", "flask", "flask_cors", "werkzeug", "yaml")

WITHOUT_THE_EXTRA = f"""
import sys
from importlib.abc import MetaPathFinder

class WithoutTheSimulatorExtra(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SIM_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, WithoutTheSimulatorExtra())
"""


def without_the_extra(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_EXTRA + code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "120"},
    )


def fleetpatch_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return without_the_extra(
        f"sys.argv = ['fleetpatch', *{list(args)!r}]\n"
        "from fleetpatch.cli.app import main\n"
        "main()\n",
        cwd,
    )


def test_the_blocker_really_blocks() -> None:
    result = without_the_extra("import moto\n")
    assert result.returncode == 1 and "No module named 'moto'" in result.stderr


def test_help_and_every_command_help_work_without_it() -> None:
    result = fleetpatch_cli("--help")
    assert result.returncode == 0, result.stderr
    for command in ("inventory", "status", "plan", "rollout", "report", "sim"):
        assert command in result.stdout
    for command in (["plan"], ["rollout"], ["report"], ["sim", "serve"]):
        helped = fleetpatch_cli(*command, "--help")
        assert helped.returncode == 0, (command, helped.stderr)
        assert "Usage:" in helped.stdout


def test_sim_serve_says_how_to_install_it_in_one_line(tmp_path: Path) -> None:
    result = fleetpatch_cli("sim", "serve", "--scenario", str(ROOT / "examples/talk/scenario.yaml"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {SIM_EXTRA_MISSING}"]
    assert SIM_EXTRA_MISSING == (
        "fleetpatch sim needs the simulator extra: pip install 'fleetpatch[sim]'"
    )
    assert result.stdout == ""


def test_the_demo_says_how_to_install_it_in_one_line(tmp_path: Path) -> None:
    result = without_the_extra(
        "from fleetpatch.demo import main\nraise SystemExit(main())\n", tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {SIM_EXTRA_MISSING}"]


def test_a_command_reads_a_fleet_without_it(sim: Simulator, tmp_path: Path) -> None:
    """The simulator runs here (this process has the extra); the CLI that reads it does not."""
    config = render_config(sim, tmp_path / "fleetpatch.toml")
    result = fleetpatch_cli("--config", str(config), "inventory", "--json")
    assert result.returncode == 0, result.stderr
    services = [
        s["service"] for env in json.loads(result.stdout)["environments"] for s in env["services"]
    ]
    assert "api" in services


def test_no_module_outside_the_simulator_needs_it() -> None:
    package = SRC / "fleetpatch"
    modules = sorted(
        ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        for path in package.rglob("*.py")
        if "sim" not in path.relative_to(package).parts[:1] and path.name != "__main__.py"
    )
    assert "fleetpatch.cli.app" in modules and "fleetpatch.demo" in modules
    assert not [m for m in modules if m.startswith("fleetpatch.sim.")]
    result = without_the_extra(
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"extra = {SIM_ONLY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in extra\n"
        "             or m == 'fleetpatch.sim' or m.startswith('fleetpatch.sim.')))\n"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]"


def test_the_package_installs_without_it_and_the_extra_adds_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = " ".join(project["dependencies"]).lower()
    for name in ("moto", "flask", "werkzeug", "pyyaml"):
        assert name not in required
    extra = " ".join(project["optional-dependencies"]["sim"]).lower()
    assert "moto[server]" in extra and "pyyaml" in extra
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -e '.[sim]'" in makefile  # make demo
    assert "pip install --quiet -e '.[dev,sim]'" in makefile  # make test
