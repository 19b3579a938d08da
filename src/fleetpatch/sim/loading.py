"""Reading a scenario: a YAML or TOML file, or data, validated into a `Scenario`; every
mistake one line naming the key (docs/scenario.md)."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fleetpatch.errors import UserError
from fleetpatch.sim.relative_times import real_time, resolve_relative_times, scenario_now
from fleetpatch.sim.scenario import Scenario


def load_scenario(path: Path, now: datetime | None = None) -> Scenario:
    """Read a scenario file (.yaml, .yml or .toml); a user mistake raises UserError.
    `now` replaces the scenario's own `now` (tests pin the world's clock with it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: scenario file not found") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read scenario: {exc.strerror}") from None
    data = _parse(path, text)
    return scenario_from_data(data, source=str(path), now=now)


def scenario_from_data(
    data: object,
    source: str = "scenario",
    now: datetime | None = None,
    *,
    real_now: Callable[[], datetime] | None = None,
) -> Scenario:
    """Validate scenario data. The world's `now` is, in order: the `now` argument, the
    scenario's own `now` key, the real time (`real_now`, for tests of this rule)."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: a scenario must be a mapping with 'environments'")
    try:
        start = now or scenario_now(data, real_now or real_time)
        data = {**resolve_relative_times(data, start), "now": start}
    except ValueError as exc:
        raise UserError(f"{source}: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{source}: {_first_error(exc)}") from None


def _parse(path: Path, text: str) -> object:
    if path.suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path}: not valid TOML: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UserError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    # A misspelt key also makes the real key "missing": name the misspelling, it is the cause.
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    location = _location(error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{location}: unknown key{_did_you_mean(errors, error)} (see docs/scenario.md)"
    message = error["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def _did_you_mean(errors: list[Any], unknown: Any) -> str:
    """Suggest a missing key of the same mapping that looks like the unknown one."""
    parent, name = unknown["loc"][:-1], str(unknown["loc"][-1])
    missing = [
        str(e["loc"][-1]) for e in errors if e["type"] == "missing" and e["loc"][:-1] == parent
    ]
    close = difflib.get_close_matches(name, missing, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
