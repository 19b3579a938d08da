"""Presentation for `fleetpatch history` and `fleetpatch journal verify`: Rich tables and JSON.

No printing here: the CLI decides where output goes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table
from rich.text import Text

from fleetpatch.journal.chain import VerifyResult, entry_to_record
from fleetpatch.journal.model import Entry, EntryKind

_KIND_STYLES = {
    EntryKind.VERIFIED: "green",
    EntryKind.DEPLOYMENT_COMPLETED: "green",
    EntryKind.ROLLBACK_COMPLETED: "green",
    EntryKind.FAILED: "bold red",
    EntryKind.HALTED: "bold red",
    EntryKind.ROLLBACK_STARTED: "yellow",
    EntryKind.HOLD: "yellow",
    EntryKind.APPROVAL: "cyan",
    EntryKind.PROMOTE: "cyan",
}


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
    }


def short_digest(digest: str | None) -> str:
    """sha256:0123456789ab... -> sha256:0123456789ab (enough to tell digests apart)."""
    if not digest:
        return ""
    algorithm, _, value = digest.rpartition(":")
    return f"{algorithm}:{value[:12]}" if algorithm else value[:12]


def entries_table(entries: Iterable[Entry], title: str | None = "Journal") -> Table:
    table = Table(title=title)
    table.add_column("seq", justify="right")
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("kind")
    table.add_column("actor")
    table.add_column("environment")
    table.add_column("service")
    table.add_column("digest before -> after")
    table.add_column("deployment")
    table.add_column("details", overflow="fold")
    for entry in entries:
        change = ""
        if entry.digest_before or entry.digest_after:
            before = short_digest(entry.digest_before) or "?"
            change = f"{before} -> {short_digest(entry.digest_after) or '?'}"
        elif entry.target_digest:
            change = f"target {short_digest(entry.target_digest)}"
        table.add_row(
            str(entry.seq),
            entry.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
            Text(entry.kind.value, style=_KIND_STYLES.get(entry.kind, "")),
            entry.actor,
            entry.environment,
            entry.service or "",
            change,
            entry.deployment_id or "",
            _details_summary(entry.details),
        )
    return table


def verify_table(result: VerifyResult) -> Table:
    table = Table(title="Journal verification", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    verdict = Text("intact", style="bold green") if result.ok else Text("BROKEN", style="bold red")
    table.add_row("result", verdict)
    table.add_row("records checked", str(result.checked))
    table.add_row("last intact seq", str(result.last_seq) if result.last_seq else "-")
    table.add_row("last hash", result.last_hash or "-")
    if not result.ok:
        table.add_row("first bad seq", str(result.bad_seq))
        table.add_row("problem", result.problem.value if result.problem else "")
        table.add_row("why", result.reason)
    return table


def _details_summary(details: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(details.items()))
