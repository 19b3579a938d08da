"""`fleetpatch report` with an environment that cannot be read: the report is still written
(saying so for that environment), the error goes to stderr, and the exit code is 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetpatch.cli.app import run
from fleetpatch.sim import Simulator
from tests.conftest import small_scenario
from tests.inventory.helpers import MISSING_PROFILE, add_prod, make_unreadable
from tests.report.helpers import config_with_journal


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_report_written_for_the_others_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    output = tmp_path / f"report.{fmt}"
    with Simulator(add_prod(small_scenario())) as sim:
        path = config_with_journal(sim, tmp_path)
        make_unreadable(path, "333333333333", monkeypatch)
        code = run(["--config", str(path), "report", "--format", fmt, "--output", str(output)])
    _, err = capsys.readouterr()
    assert code == 1
    text = output.read_text(encoding="utf-8")
    assert MISSING_PROFILE in text  # the report itself says prod was not read
    if fmt == "json":
        envs = {env["name"]: env for env in json.loads(text)["environments"]}
        assert envs["dev"]["error"] is None and len(envs["dev"]["services"]) == 3
        assert MISSING_PROFILE in envs["prod"]["error"]
    lines = err.strip().splitlines()
    assert lines[0] == f"report written to {output}"
    assert lines[1].startswith(f"error: prod: AWS profile '{MISSING_PROFILE}' not found")
    assert len(lines) == 2
