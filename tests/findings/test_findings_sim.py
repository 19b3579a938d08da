"""`fleetpatch findings` against the simulator: ECR enhanced and basic scanning, whether the
target fixes each finding, images no service runs listed separately, a Trivy report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetpatch.cli.app import run
from fleetpatch.compliance import Severity
from fleetpatch.compliance.evidence import gather
from fleetpatch.findings import findings_view
from fleetpatch.sim import Simulator
from tests.conftest import ROOT, small_scenario
from tests.inventory.helpers import MISSING_PROFILE, add_prod, make_unreadable, render_config

TRIVY = ROOT / "tests" / "compliance" / "data" / "trivy-fluent-bit.json"
PUBLISHED = "2026-10-01T00:00:00Z"
A = {
    "id": "CVE-2026-0001",
    "severity": "critical",
    "package": "fluent-bit",
    "installed": "1.0",
    "fixed": "1.1",
    "published": PUBLISHED,
}
B = {
    "id": "CVE-2026-0002",
    "severity": "high",
    "package": "openssl",
    "installed": "3.0.13",
    "fixed": "3.0.15",
    "published": PUBLISHED,
}
LOW = {"id": "CVE-2026-0003", "severity": "low", "package": "zlib", "installed": "1.2"}
OLD = {"id": "CVE-2025-9999", "severity": "critical", "package": "glibc", "installed": "2.36"}


def scenario(scan: str) -> dict[str, Any]:
    """dev runs 1.0 (A critical, B high, a low); latest is 1.1 (B only); 0.9 runs nowhere."""
    data = small_scenario()
    data["environments"][0]["repositories"][0]["scan"] = scan
    data["environments"][0]["repositories"][0]["images"] = [
        {"tags": ["0.9-9999999"], "pushed_at": "2026-10-01T00:00:00Z", "findings": [OLD]},
        {
            "tags": ["1.0-aaaaaaa", "latest"],
            "pushed_at": "2026-11-01T00:00:00Z",
            "findings": [A, B, LOW],
        },
        {"tags": ["1.1-bbbbbbb", "latest"], "pushed_at": "2026-11-25T00:00:00Z", "findings": [B]},
    ]
    return data


@pytest.fixture(params=["enhanced", "basic"])
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Simulator, Path, str]]:
    with Simulator(scenario(request.param)) as sim:
        path = render_config(sim, tmp_path / "fleetpatch.toml")
        yield sim, path, request.param


def test_running_digest_findings_and_what_the_target_fixes(
    fleet: tuple[Simulator, Path, str],
) -> None:
    from fleetpatch.config import load_config

    _, path, scan = fleet
    view = findings_view(
        gather(load_config(path), with_history=False, with_journal=False),
        [Severity.CRITICAL, Severity.HIGH],
    )
    (running,) = view.running
    assert running.label == "1.0-aaaaaaa"
    assert running.where == (("dev", ("main/api", "main/web", "main/worker")),)
    rows = {row.finding.vulnerability_id: row for row in running.rows}
    assert list(rows) == ["CVE-2026-0001", "CVE-2026-0002"]  # worst first; low filtered out
    assert rows["CVE-2026-0001"].fixed_by_target == (("dev", True),)
    assert rows["CVE-2026-0002"].fixed_by_target == (("dev", False),)
    a = rows["CVE-2026-0001"].finding
    assert (a.package, a.installed_version) == ("fluent-bit", "1.0")
    # Basic scanning knows no fixed version (as real ECR basic scanning).
    assert a.fixed_version == ("1.1" if scan == "enhanced" else None)
    # The image no service runs, with a critical finding: listed, not lost.
    labels = {item.label: item for item in view.not_running}
    assert labels["0.9-9999999"].rows[0].finding.vulnerability_id == "CVE-2025-9999"
    assert not labels["0.9-9999999"].running


def test_cli_json_and_severity_filter(
    fleet: tuple[Simulator, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, path, _ = fleet
    code = run(["--config", str(path), "findings", "--severity", "high", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["severities"] == ["high"]
    (running,) = data["running"]
    assert running["running_in"] == {"dev": ["main/api", "main/web", "main/worker"]}
    (finding,) = running["findings"]
    assert finding["vulnerability_id"] == "CVE-2026-0002"
    assert finding["fixed_by_target"] == {"dev": False}
    assert data["targets"][0]["label"] == "1.1-bbbbbbb"


def test_table_output(
    fleet: tuple[Simulator, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, path, _ = fleet
    assert run(["--config", str(path), "findings"]) == 0
    out = capsys.readouterr().out
    assert "1.0-aaaaaaa" in out and "CVE-2026-0001" in out and "images no service runs" in out


@pytest.fixture
def enhanced(tmp_path: Path) -> Iterator[Path]:
    with Simulator(scenario("enhanced")) as sim:
        yield render_config(sim, tmp_path / "fleetpatch.toml")


def test_trivy_report_for_a_running_digest_replaces_ecr(
    enhanced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(enhanced), "findings", "--json"]) == 0
    running = json.loads(capsys.readouterr().out)["running"][0]["digest"]
    code = run(
        [
            "--config",
            str(enhanced),
            "findings",
            "--json",
            "--trivy",
            str(TRIVY),
            "--trivy-digest",
            running,
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    (item,) = data["running"]
    assert item["source"] == "trivy"
    ids = [f["vulnerability_id"] for f in item["findings"]]
    assert ids == ["CVE-2023-45853", "CVE-2024-4323"]


def test_trivy_report_of_an_image_nobody_runs_is_listed_separately(
    enhanced: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--config", str(enhanced), "findings", "--json", "--trivy", str(TRIVY)]) == 0
    data = json.loads(capsys.readouterr().out)
    trivy = [item for item in data["not_running"] if item["source"] == "trivy"]
    assert len(trivy) == 1 and trivy[0]["digest"].startswith("sha256:4b9c0d1e")
    assert {f["vulnerability_id"] for f in trivy[0]["findings"]} == {
        "CVE-2023-45853",
        "CVE-2024-4323",
    }
    assert data["running"][0]["source"] == "ecr"  # the running digest keeps its ECR scan


@pytest.mark.parametrize("as_json", [True, False])
def test_an_unreadable_environment_exits_1_after_the_others(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    as_json: bool,
) -> None:
    with Simulator(add_prod(scenario("enhanced"))) as sim:
        path = render_config(sim, tmp_path / "fleetpatch.toml")
        make_unreadable(path, "333333333333", monkeypatch)
        code = run(["--config", str(path), "findings", *(["--json"] if as_json else [])])
    out, err = capsys.readouterr()
    assert code == 1
    # dev is still reported in full ...
    if as_json:
        (running,) = json.loads(out)["running"]
        assert running["running_in"] == {"dev": ["main/api", "main/web", "main/worker"]}
    else:
        assert "CVE-2026-0001" in out
    # ... and prod's one line says why it is missing (table mode also notes dev's target).
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: prod: AWS profile '{MISSING_PROFILE}' not found")
