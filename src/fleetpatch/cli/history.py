"""The table of `fleetpatch history`: the journal, one row per record, fitted to the terminal.

At 80 columns it shows when, what, which service and which digests (8 hex characters, the
cluster left out when every row shares one); wider terminals add the record number, the
environment, the actor, the deployment id and the details. `--json` has every field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text

from fleetpatch.cli.tables import Cell, Column, FitTable
from fleetpatch.journal.model import Entry, EntryKind

_KIND_STYLES = {
    EntryKind.VERIFIED: "green",
    EntryKind.DEPLOYMENT_COMPLETED: "green",
    EntryKind.ROLLBACK_COMPLETED: "green",
    EntryKind.FAILED: "bold red",
    EntryKind.HALTED: "bold red",
    EntryKind.ROLLBACK_STARTED: "yellow",
    EntryKind.HOLD: "yellow",
    EntryKind.SKIPPED: "yellow",
    EntryKind.APPROVAL: "cyan",
    EntryKind.PROMOTE: "cyan",
}

# Dropped when narrow: details first, then the deployment id, environment, seq, actor.
COLUMNS = (
    Column("seq", drop=4, justify="right"),
    Column("time (UTC)"),
    Column("kind"),
    Column("actor", drop=5),
    Column("env", drop=3),
    Column("service", name=True),
    Column("before -> after"),
    Column("deployment", drop=2),
    Column("details", drop=1),
)


def history_table(entries: Sequence[Entry], title: str | None = "Journal") -> FitTable:
    table = FitTable(title, COLUMNS)
    clusters = {e.service.partition("/")[0] for e in entries if e.service and "/" in e.service}
    one_cluster = len(clusters) == 1
    for entry in entries:
        service = entry.service or ""
        table.add_row(
            str(entry.seq),
            Cell(
                entry.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
                entry.timestamp.strftime("%Y-%m-%d %H:%M"),
            ),
            Text(entry.kind.value, style=_KIND_STYLES.get(entry.kind, "")),
            entry.actor,
            entry.environment,
            Cell(service, service.partition("/")[2] or service) if one_cluster else service,
            Cell(_change(entry, _digest), _change(entry, _short_digest)),
            entry.deployment_id or "",
            _details_summary(entry.details),
        )
    return table


def _change(entry: Entry, show: Callable[[str | None], str]) -> str:
    if entry.digest_before or entry.digest_after:
        return f"{show(entry.digest_before) or '?'} -> {show(entry.digest_after) or '?'}"
    if entry.target_digest:
        return f"target {show(entry.target_digest)}"
    return ""


def _digest(digest: str | None) -> str:
    """sha256:0123456789ab... -> sha256:0123456789ab (enough to tell digests apart)."""
    if not digest:
        return ""
    algorithm, _, value = digest.rpartition(":")
    return f"{algorithm}:{value[:12]}" if algorithm else value[:12]


def _short_digest(digest: str | None) -> str:
    """sha256:0123456789ab... -> 01234567: in one journal, 8 hex characters tell apart."""
    return digest.rpartition(":")[2][:8] if digest else ""


def _details_summary(details: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(details.items()))
