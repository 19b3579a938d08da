"""Presentation for `fleetpatch history` and `fleetpatch journal verify`: JSON, and the
verification table (the history table is fitted to the terminal: cli/history.py).

No printing here: the CLI decides where output goes.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from fleetpatch.journal.chain import VerifyResult, entry_to_record
from fleetpatch.journal.model import Entry


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """Every stored field, JSON-ready (timestamp as ISO 8601 UTC, kind as its string)."""
    return entry_to_record(entry)


def verify_to_json(result: VerifyResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "checked": result.checked,
        "last_seq": result.last_seq,
        "last_hash": result.last_hash,
        "bad_seq": result.bad_seq,
        "problem": result.problem.value if result.problem else None,
        "reason": result.reason,
        "anchored_seq": result.anchored_seq,
    }


def verify_table(result: VerifyResult) -> Table:
    table = Table(title="Journal verification", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    verdict = Text("intact", style="bold green") if result.ok else Text("BROKEN", style="bold red")
    table.add_row("result", verdict)
    table.add_row("records checked", str(result.checked))
    table.add_row("last intact seq", str(result.last_seq) if result.last_seq else "-")
    table.add_row("last hash", result.last_hash or "-")
    if result.anchored_seq is not None:
        table.add_row("anchored up to seq", str(result.anchored_seq))
    if not result.ok:
        table.add_row("first bad seq", str(result.bad_seq))
        table.add_row("problem", result.problem.value if result.problem else "")
        table.add_row("why", result.reason)
    return table
