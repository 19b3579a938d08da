"""The report's content in every format, on the talk's scenario after dev was patched:
dev compliant (patched 2026-11-27, 7 days after the fix, approved by bob, 2 tasks verified on
3.0.4), stg and prod due 2026-12-20 (23 days left)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from fleetpatch.report.model import Period, Report
from fleetpatch.report.write import make_report, write_report
from fleetpatch.sim import Simulator
from tests.conftest import TALK_NOW, TALK_SCENARIO
from tests.report.helpers import PatchedDev, patch_dev

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def patched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PatchedDev]:
    with Simulator(TALK_SCENARIO, time_scale=0, now=TALK_NOW) as sim:
        yield patch_dev(sim, tmp_path_factory.mktemp("talk"))


@pytest.fixture(scope="module")
def report(patched: PatchedDev) -> Report:
    return make_report(patched.config, "2026-11", today=patched.today, now=NOW)


def test_dev_is_compliant_with_approval_and_task_evidence(
    report: Report, patched: PatchedDev
) -> None:
    dev = next(env for env in report.environments if env.name == "dev")
    assert len(dev.services) == 12 and dev.count("compliant") == 12
    service = dev.services[0]
    (finding,) = service.findings
    assert (finding.vulnerability_id, finding.severity) == ("CVE-2024-4323", "critical")
    assert finding.fix_available.isoformat() == "2026-11-20"  # type: ignore[union-attr]
    assert finding.fix_label == "3.0.4-a1b2c3d"
    assert (finding.status, finding.patched_on.isoformat()) == ("compliant", "2026-11-27")  # type: ignore[union-attr]
    assert (finding.days_taken, finding.on_time) == (7, True)
    assert finding.deployment is not None
    assert finding.deployment.approved_by == ("bob",) and finding.deployment.actor == "alice"
    assert finding.deployment.task_digests == ((patched.d4, 2),)
    # The timeline: 3.0.3 since the scenario's deployment, then 3.0.4 (from ECS + journal).
    labels = [(span.label, span.vulnerable, span.end is None) for span in service.spans]
    assert labels == [("3.0.3-4b9c0d1", True, False), ("3.0.4-a1b2c3d", False, True)]
    # From ECS: the scenario's deployment on 2026-11-02 (now-25d), replaced by the one that finished
    # at 09:10 (the journal's verification, at the same moment, agrees).
    assert service.spans[0].start == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert service.spans[0].end == datetime(2026, 11, 27, 9, 10, tzinfo=UTC)
    assert service.running == ("3.0.4-a1b2c3d",)


def test_stg_and_prod_are_due_in_23_days(report: Report) -> None:
    for env in report.environments[1:]:
        assert env.count("due") == 12
        finding = env.services[0].findings[0]
        assert (finding.deadline.isoformat(), finding.days_left) == ("2026-12-20", 23)  # type: ignore[union-attr]
        assert finding.deployment is None and env.services[0].deployments == ()


def test_the_clock_as_it_stood_on_an_earlier_day(patched: PatchedDev) -> None:
    """As of 2026-11-25 dev had not been patched yet (that happened on the 27th)."""
    earlier = make_report(patched.config, "2026-11", today=date(2026, 11, 25), now=NOW)
    assert earlier.as_of == date(2026, 11, 25)
    dev = earlier.environments[0]
    assert dev.count("due") == 12 and all(not s.deployments for s in dev.services)
    assert dev.services[0].findings[0].days_left == 25
    assert dev.services[0].spans[-1].label == "3.0.3-4b9c0d1"


def test_a_month_before_the_fix_has_no_fix(patched: PatchedDev) -> None:
    """In October 3.0.4 did not exist yet: a report of October must not know of it."""
    october = make_report(patched.config, Period(2026, 10), today=patched.today, now=NOW)
    assert october.as_of == date(2026, 10, 31) and october.fixes == ()


def test_markdown(patched: PatchedDev, tmp_path: Path) -> None:
    path = write_report(
        patched.config, "2026-11", "md", tmp_path / "r.md", today=patched.today, now=NOW
    )
    text = path.read_text()
    assert text.startswith("# fluent-bit patch evidence, 2026-11\n")
    assert "Fix for CVE-2024-4323 available since 2026-11-20 (3.0.4-a1b2c3d)" in text
    assert (
        "| card-platform/admin-web | 3.0.4-a1b2c3d | CVE-2024-4323 | critical | 2026-11-20 " in text
    )
    assert "patched 2026-11-27 after 7 days (on time) | bob |" in text
    assert text.count("due 2026-12-20 (23 days left)") == 2 * 24  # table + section
    assert "- 3.0.3-4b9c0d1 (vulnerable): 2026-11-02 09:00 UTC to 2026-11-27 09:10 UTC" in text


def test_csv(patched: PatchedDev, tmp_path: Path) -> None:
    path = write_report(
        patched.config, "2026-11", "csv", tmp_path / "r.csv", today=patched.today, now=NOW
    )
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == 36
    dev = [r for r in rows if r["environment"] == "dev"]
    assert {r["status"] for r in dev} == {"compliant"}
    assert dev[0]["approved_by"] == "bob" and dev[0]["deployed_by"] == "alice"
    assert dev[0]["days_taken"] == "7" and dev[0]["on_time"] == "true"
    assert dev[0]["verified_task_digests"] == f"{patched.d4}=2"
    prod = [r for r in rows if r["environment"] == "prod"]
    assert {(r["status"], r["days_left"], r["deadline"]) for r in prod} == {
        ("due", "23", "2026-12-20")
    }


def test_json(patched: PatchedDev, tmp_path: Path) -> None:
    path = write_report(
        patched.config, "2026-11", "json", tmp_path / "r.json", today=patched.today, now=NOW
    )
    data = json.loads(path.read_text())
    assert data["period"] == "2026-11" and data["as_of"] == "2026-11-27"
    assert data["policy"] == [["critical", 30], ["high", 30]]
    dev = data["environments"][0]
    finding = dev["services"][0]["findings"][0]
    assert finding["deployment"]["approved_by"] == ["bob"]
    assert finding["deployment"]["task_digests"] == [[patched.d4, 2]]
    assert finding["fix_available"] == "2026-11-20" and finding["days_taken"] == 7


def test_html_is_self_contained(patched: PatchedDev, tmp_path: Path) -> None:
    path = write_report(
        patched.config, "2026-11", "html", tmp_path / "r.html", today=patched.today, now=NOW
    )
    text = path.read_text()
    assert text.count("<svg") == 3 and text.count('class="finding"') == 36
    assert "@media print" in text and "<style>" in text
    # No script, and nothing fetched from anywhere (the SVG namespace is an identifier).
    assert "<script" not in text.lower()
    urls = re.findall(r"""(?:src|href|url)\s*[=(]\s*["']?([^"') >]+)""", text)
    assert urls == []
    assert "http" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "bob" in text and "OVERDUE" not in text


def test_default_output_name_and_cli(
    patched: PatchedDev,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fleetpatch.cli.app import run

    monkeypatch.chdir(tmp_path)
    code = run(
        [
            "--config",
            str(patched.config_path),
            "report",
            "--period",
            "2026-11",
            "--format",
            "markdown",
        ]
    )
    assert code == 0
    assert (tmp_path / "fleetpatch-report-2026-11.md").exists()
    assert "report written to fleetpatch-report-2026-11.md" in capsys.readouterr().err
