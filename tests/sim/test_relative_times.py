"""Scenario times relative to the start: the talk's story is the same on any day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.cli.app import run
from fleetpatch.cli.output import console
from fleetpatch.errors import UserError
from fleetpatch.sim import Simulator
from fleetpatch.sim.loading import scenario_from_data
from fleetpatch.sim.relative_times import relative_time
from tests.conftest import TALK_SCENARIO, small_scenario
from tests.report.helpers import config_with_journal

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@given(
    days=st.integers(0, 4000),
    hours=st.integers(0, 23),
    minutes=st.integers(0, 59),
    sign=st.sampled_from(["-", "+"]),
)
def test_relative_times_count_from_the_start(
    days: int, hours: int, minutes: int, sign: str
) -> None:
    text = f"now{sign}{days}d{hours}h{minutes}m"
    offset = timedelta(days=days, hours=hours, minutes=minutes)
    expected = START - offset if sign == "-" else START + offset
    assert relative_time(text, START) == expected


@given(st.text(max_size=12).filter(lambda t: not t.strip().startswith("now")))
def test_anything_else_is_not_a_relative_time(text: str) -> None:
    assert relative_time(text, START) is None


def test_a_scenario_without_now_starts_at_the_real_time() -> None:
    data = small_scenario()
    del data["now"]
    data["environments"][0]["repositories"][0]["images"][1]["pushed_at"] = "now-2d"
    real = datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
    scenario = scenario_from_data(data, real_now=lambda: real)
    assert scenario.now == real
    pushed = scenario.environments[0].repositories[0].images[1].pushed_at
    assert pushed == real - timedelta(days=2)


def test_a_malformed_relative_time_is_one_line_naming_it() -> None:
    data = small_scenario()
    data["environments"][0]["repositories"][0]["images"][1]["pushed_at"] = "now-2 weeks"
    with pytest.raises(UserError, match=r"'now-2 weeks' is not a relative time: write now-7d"):
        scenario_from_data(data, source="s.yaml")


@pytest.mark.parametrize("start", [datetime(2027, 3, 1, 0, 30, tzinfo=UTC), START])
def test_the_talk_tells_the_same_story_on_any_day(
    start: datetime,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console, "width", 200)  # each deadline whole on its line
    fix_day = (start - timedelta(days=7)).date()
    due_day = fix_day + timedelta(days=30)
    with Simulator(TALK_SCENARIO, time_scale=0, now=start) as sim:
        path = config_with_journal(sim, tmp_path)
        assert run(["--config", str(path), "status", "--env", "dev"], now=sim.clock.now) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "dev: 12 services run a digest with CVE-2024-4323 (critical); "
        f"fix available since {fix_day}; due {due_day} (23 days)"
    )
