"""`fleetpatch status` leads with the nearest deadline; and the report after a real
`fleetpatch rollout --env dev --yes` (the rollout engine, the simulator at 3000x)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetpatch.cli.app import run
from fleetpatch.cli.output import console
from fleetpatch.sim import Simulator
from tests.conftest import TALK_NOW, TALK_SCENARIO
from tests.report.helpers import config_with_journal

LINE = (
    "{env}: 12 services run a digest with CVE-2024-4323 (critical); "
    "fix available since 2026-11-20; due 2026-12-20 (23 days)"
)


def test_status_shows_the_nearest_deadline_first(
    talk_sim: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Wide enough for each deadline on one line (narrower: tests/report/test_table_widths.py).
    monkeypatch.setattr(console, "width", 200)
    path = config_with_journal(talk_sim, tmp_path)
    assert run(["--config", str(path), "status"], now=talk_sim.clock.now) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:3] == [LINE.format(env=e) for e in ("dev", "prod", "stg")]
    assert "status at" in out  # the table follows
    assert run(["--config", str(path), "status", "--json"], now=talk_sim.clock.now) == 0
    deadlines = json.loads(capsys.readouterr().out)["deadlines"]
    assert [d["environment"] for d in deadlines] == ["dev", "prod", "stg"]
    assert deadlines[0]["days_left"] == 23 and len(deadlines[0]["services"]) == 12


def test_report_after_a_real_rollout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Simulator(TALK_SCENARIO, time_scale=3000, now=TALK_NOW) as sim:
        path = config_with_journal(sim, tmp_path)
        assert (
            run(
                [
                    "--config",
                    str(path),
                    "rollout",
                    "--env",
                    "dev",
                    "--yes",
                    "--poll-interval",
                    "0.2",
                ],
                now=sim.clock.now,
            )
            == 0
        )
        out = tmp_path / "report.json"
        code = run(
            ["--config", str(path), "report", "--format", "json", "--output", str(out)],
            now=sim.clock.now,
        )
        assert code == 0
    capsys.readouterr()
    data = json.loads(out.read_text())
    dev, stg, _ = data["environments"]
    assert len(dev["services"]) == 12
    for service in dev["services"]:
        (finding,) = service["findings"]
        assert finding["status"] == "compliant" and finding["on_time"] is True
        deployment = finding["deployment"]
        # The engine records no approval: the report names who ran it.
        assert deployment["approved_by"] == [] and deployment["actor"]
        assert deployment["label_after"] == "3.0.4-a1b2c3d"
        ((digest, tasks),) = deployment["task_digests"]
        assert tasks >= 1 and digest == deployment["digest_after"]
        assert service["running"] == ["3.0.4-a1b2c3d"]
    assert {f["status"] for s in stg["services"] for f in s["findings"]} == {"due"}
