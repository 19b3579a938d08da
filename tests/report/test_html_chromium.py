"""Render the HTML report in headless Chromium: the page must show the tables and the chart.

Chromium is not part of the Python environment. Install it with
`apt-get update && apt-get install -y chromium` (Debian); without /usr/bin/chromium the
test is skipped and says so.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetpatch.report.write import write_report
from fleetpatch.sim import Simulator
from tests.conftest import TALK_NOW, TALK_SCENARIO
from tests.report.helpers import PatchedDev, patch_dev

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium not installed: apt-get update && apt-get install -y chromium",
)


@pytest.fixture(scope="module")
def html_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("html")
    with Simulator(TALK_SCENARIO, time_scale=0, now=TALK_NOW) as sim:
        patched: PatchedDev = patch_dev(sim, tmp)
        yield write_report(
            patched.config,
            "2026-11",
            "html",
            tmp / "report.html",
            today=patched.today,
            now=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        )


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dom_shows_tables_and_chart(html_report: Path, tmp_path: Path) -> None:
    result = chromium(tmp_path, "--dump-dom", html_report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert dom.count('<table class="findings">') == 3
    assert dom.count('<tr class="finding">') == 36
    assert dom.count('<tr class="deployment">') == 12
    assert dom.count('<svg class="timeline"') == 3
    assert dom.count('<rect class="span"') >= 36
    assert "patched 2026-11-27 after 7 days (on time)" in dom


def test_screenshot_is_rendered(html_report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    result = chromium(tmp_path, f"--screenshot={png}", html_report.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A blank page compresses to a few kilobytes; tables and a chart do not.
    assert len(data) > 50_000
