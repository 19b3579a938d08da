"""The auditor's evidence report (issue 5; docs/report.md).

    compliance.evidence.gather ─► build.build_report (pure) ─► Report ─► one ReportFormat

A format is a module with `name`, `extension` and `render(report) -> str`; adding one is a
module and a line in FORMATS. `write_report` (report.write) is the one call the CLI and the
demo make.
"""

from __future__ import annotations

from typing import Protocol

from fleetpatch.errors import UserError
from fleetpatch.report import csv, html, json, markdown
from fleetpatch.report.model import Report


class ReportFormat(Protocol):
    name: str
    extension: str

    def render(self, report: Report) -> str: ...


# Each renderer module is itself a ReportFormat (mypy checks modules against protocols).
FORMATS: dict[str, ReportFormat] = {f.name: f for f in (html, markdown, csv, json)}
# What people type: `--format markdown` is as clear as `--format md`.
_ALIASES = {"markdown": "md", "htm": "html"}


def get_format(name: str) -> ReportFormat:
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    chosen = FORMATS.get(key)
    if chosen is None:
        raise UserError(f"unknown report format {name!r}: use one of {', '.join(FORMATS)}")
    return chosen


__all__ = ["FORMATS", "Report", "ReportFormat", "get_format"]
