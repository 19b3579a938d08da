"""Bad input through the real CLI in a subprocess: one clear line on stderr, exit 2, no
traceback, and no AWS call (the config points at an endpoint nothing listens on)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """\
[[sidecars]]
name = "fluent-bit"
repository = "fluent-bit"

[[environments]]
name = "dev"
account_id = "111111111111"
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:9"
"""


def fleetpatch(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp / "fleetpatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "FLEETPATCH_CONFIG"}
    environ["FLEETPATCH_JOURNAL"] = str(tmp / "journal.sqlite")
    return subprocess.run(
        [sys.executable, "-m", "fleetpatch", "--config", str(config), *args],
        cwd=tmp,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"hello": "world"}', "no SchemaVersion number"),
        ("not json at all", "invalid JSON at line 1"),
        ("[1, 2, 3]", "the top level is not an object"),
    ],
)
def test_a_file_that_is_not_a_trivy_report(tmp_path: Path, content: str, says: str) -> None:
    report = tmp_path / "scan.json"
    report.write_text(content, encoding="utf-8")
    line = one_line_error(fleetpatch(tmp_path, "findings", "--trivy", str(report)))
    assert f"{report}: not a Trivy JSON report" in line and says in line


def test_a_missing_trivy_file(tmp_path: Path) -> None:
    line = one_line_error(fleetpatch(tmp_path, "findings", "--trivy", "nope.json"))
    assert "nope.json: Trivy report not found" in line


def test_trivy_digest_without_a_report(tmp_path: Path) -> None:
    line = one_line_error(fleetpatch(tmp_path, "findings", "--trivy-digest", "sha256:ab"))
    assert "add --trivy FILE" in line


@pytest.mark.parametrize("severity", ["critcal", "critical,urgent", ","])
def test_an_unknown_severity(tmp_path: Path, severity: str) -> None:
    line = one_line_error(fleetpatch(tmp_path, "findings", "--severity", severity))
    assert "severity" in line and "critical, high, medium" in line


def test_an_unknown_source(tmp_path: Path) -> None:
    line = one_line_error(fleetpatch(tmp_path, "findings", "--source", "snyk"))
    assert "unknown findings source 'snyk': use one of ecr, inspector" in line


@pytest.mark.parametrize("period", ["2026-13", "november", "2026-1", "2026-00", "26-11"])
def test_a_period_that_is_not_a_month(tmp_path: Path, period: str) -> None:
    line = one_line_error(fleetpatch(tmp_path, "report", "--period", period))
    assert f"period {period!r} is not a month: write it as YYYY-MM, e.g. 2026-11" in line


def test_an_unknown_format(tmp_path: Path) -> None:
    line = one_line_error(fleetpatch(tmp_path, "report", "--format", "pdf"))
    assert "unknown report format 'pdf': use one of html, md, csv, json" in line
