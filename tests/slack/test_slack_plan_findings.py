"""The plan Slack shows says which findings the target fixes and by when they are due (the
talk's fleet: CVE-2024-4323, critical, fixed in 3.0.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetpatch.config import load_config
from fleetpatch.sim import Simulator
from tests.conftest import TALK_NOW, TALK_SCENARIO
from tests.inventory.helpers import render_config
from tests.slack.fake_api import FakeSlackApi
from tests.slack.slack_app import running_app, texts


def test_the_plan_names_the_findings_it_fixes_and_their_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETPATCH_JOURNAL", str(tmp_path / "journal.sqlite"))
    with (
        Simulator(TALK_SCENARIO, time_scale=0, now=TALK_NOW) as sim,
        FakeSlackApi() as slack,
    ):
        config = load_config(render_config(sim, tmp_path / "fleetpatch.toml"))
        with running_app(config, slack, sim) as app:
            assert app.command("U0ALICE", "plan prod").status == 200
            # A plan changes nothing: it is the answer to the command (its response_url).
            (call,) = slack.wait_for("response_url:alice-command")
    shown = texts(call.params["blocks"])
    assert "3.0.4-a1b2c3d" in shown and "sha256:" in shown
    assert "CVE-2024-4323" in shown
    assert "2026-12-20" in shown  # due: the fix's release (2026-11-20) + 30 days
    assert sim.calls["ecs:UpdateService"] == 0
