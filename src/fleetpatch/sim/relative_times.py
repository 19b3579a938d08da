"""Times in a scenario written relative to its start: `now`, `now-7d`, `now+1h30m`.

A scenario's `now` defaults to the moment the simulator starts, as AWS's clock is the real
one, so that a scenario written with relative times tells the same story on any day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

_RELATIVE = re.compile(r"^now(?:\s*([+-])\s*((?:\d+[dhms])+))?$")
_LOOKS_RELATIVE = re.compile(r"^\s*now\s*(?:[+-]|$)")
_PART = re.compile(r"(\d+)([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def real_time() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def scenario_now(data: dict[str, Any], real_now: Callable[[], datetime]) -> datetime:
    """The world's start: the scenario's `now` key (an ISO time), else the real time."""
    given = data.get("now")
    if given is None or given == "now":
        return real_now()
    if isinstance(given, datetime):
        return given if given.tzinfo else given.replace(tzinfo=UTC)
    if isinstance(given, str):
        try:
            parsed = datetime.fromisoformat(given.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"now: {given!r} is not a time: write an ISO 8601 time "
                "(2026-11-27T09:00:00Z) or leave it out to start at the real time"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"now: {given!r} is not a time")


def relative_time(text: str, start: datetime) -> datetime | None:
    """`now`, `now-7d`, `now+1h30m` -> that moment relative to `start`; None when `text` is
    not a relative time (an ISO time, or anything else, is left to the schema)."""
    match = _RELATIVE.match(text.strip())
    if match is None:
        return None
    sign, parts = match.groups()
    if not parts:
        return start
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(parts))
    return start + timedelta(seconds=seconds if sign == "+" else -seconds)


def resolve_relative_times(data: Any, start: datetime) -> Any:
    """A copy of scenario data where every relative time string is a datetime."""
    if isinstance(data, dict):
        return {key: resolve_relative_times(value, start) for key, value in data.items()}
    if isinstance(data, list):
        return [resolve_relative_times(item, start) for item in data]
    if isinstance(data, str) and _LOOKS_RELATIVE.match(data):
        moment = relative_time(data, start)
        if moment is None:
            raise ValueError(
                f"{data!r} is not a relative time: write now-7d, now-2h30m or now+1d "
                "(units d, h, m, s)"
            )
        return moment
    return data
