"""`plan` says how long AWS's rate limits make the rollout's calls, before anything starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetpatch.cli.app import run
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import render_config

SERVICES = 45


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    scenario = small_scenario()
    scenario["environments"][0]["clusters"][0]["services"] = [
        f"svc-{n:02d}" for n in range(SERVICES)
    ]
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    with Simulator(scenario) as sim:
        assert sim.scenario.faults.aws_limits  # the default: AWS's limits on
        path = render_config(sim, tmp_path / "fleetpatch.toml")
        path.write_text(path.read_text() + "\n[policy]\nmax_parallel = 50\n")
        yield path


def test_pin_mode_plan_says_registration_waits_on_its_bucket(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config), "plan", "--env", "dev", "--pin"]) == 0
    captured = capsys.readouterr()
    out = " ".join((captured.out + captured.err).split())
    # 45 RegisterTaskDefinition calls: 20 at once, 25 more at 1 a second.
    assert (
        "AWS's rate limits: this rollout's API calls take at least 25 s "
        "(ECS task definition writes: 20 at once, then 1 a second)"
    ) in out


def test_plan_json_has_the_pacing_per_wave(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config), "plan", "--env", "dev", "--pin", "--json"]) == 0
    pacing = json.loads(capsys.readouterr().out)["pacing"]
    assert pacing["api_seconds"] == 25
    assert pacing["binding_limit"] == {"name": "ECS task definition writes", "burst": 20, "rate": 1}
    assert [w["wave"] for w in pacing["waves"]] == [1, 2]
    assert pacing["waves"][1]["api_seconds"] == SERVICES - 1 - 20
    assert pacing["waves"][1]["calls"]["ecs:RegisterTaskDefinition"] == SERVICES - 1


def test_tag_mode_within_the_bursts_says_nothing(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(config), "plan", "--env", "dev"]) == 0
    captured = capsys.readouterr()
    assert "rate limits" not in captured.out + captured.err
