"""`make demo` tells the whole story; this keeps it from rotting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_demo_tells_the_talks_story_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fleetpatch.demo"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout + result.stderr
    # dev, stg and prod each end with all twelve services verified on 3.0.4
    assert out.count("12 verified, 0 failed") >= 3
    assert "HALTED: wave 1" in out and "fluent-bit exited: SIGSEGV" in out
    assert "rolled back to" in out
    # prod's four eyes: alice's promote waits, her own approval is refused, bob's counts.
    assert "promote of prod needs 1 approval(s)" in out and "(four eyes)" in out
    assert "approved by arn:aws:sts::333333333333:assumed-role/fleetpatch/bob" in out
    assert "Traceback" not in out
    report = tmp_path / "out" / "demo-report.html"
    assert report.exists() and "<svg" in report.read_text()
