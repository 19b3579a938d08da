"""The report as JSON: every field of the model, dates as ISO 8601 strings."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any

from fleetpatch.core.times import iso_z
from fleetpatch.report.model import Report

name = "json"
extension = "json"


def render(report: Report) -> str:
    data = _plain(report)
    data["period"] = report.period.label
    return json.dumps(data, indent=2) + "\n"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
