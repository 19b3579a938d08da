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
from tests.inventory.helpers import render_config
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


def test_the_report_names_who_approved_the_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dev needs one approval: alice asks, bob approves, alice runs; the report's "approved by"
    is bob's identity (the request the run started), not alice's."""
    with Simulator(TALK_SCENARIO, time_scale=3000, now=TALK_NOW) as sim:
        account = sim.environment("dev").account
        session = f"arn:aws:sts::{account}:assumed-role/{sim.scenario.role_name}/"

        def as_person(person: str) -> list[str]:
            policy = {"required": 1, "approvers": [session + "bob"]}
            path = render_config(
                sim,
                tmp_path / f"{person}.toml",
                environments={"dev": {"session_name": person, "approvals": policy}},
            )
            journal = tmp_path / "journal.sqlite"
            path.write_text(f'journal = "{journal}"\n\n' + path.read_text(), "utf-8")
            return ["--config", str(path)]

        alice, bob = as_person("alice"), as_person("bob")
        rollout = [*alice, "rollout", "--env", "dev", "--yes", "--poll-interval", "0.2"]
        assert run(rollout, now=sim.clock.now) == 2
        request_id = capsys.readouterr().err.split("requested as ")[1].split()[0]
        assert run([*bob, "approve", request_id], now=sim.clock.now) == 0
        assert run(rollout, now=sim.clock.now) == 0
        out = tmp_path / "report.json"
        report = [*alice, "report", "--format", "json", "--output", str(out)]
        assert run(report, now=sim.clock.now) == 0
    capsys.readouterr()
    dev = json.loads(out.read_text())["environments"][0]
    deployments = [f["deployment"] for s in dev["services"] for f in s["findings"]]
    assert len(deployments) == 12
    assert {tuple(d["approved_by"]) for d in deployments} == {("iam:" + session + "bob",)}
