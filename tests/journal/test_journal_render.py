"""The CLI's tables and JSON render every field without error."""

from __future__ import annotations

import json

from rich.console import Console

from fleetpatch.cli.history import history_table
from fleetpatch.journal import EntryKind, NewEntry, SqliteJournal
from fleetpatch.journal.render import entry_to_json, verify_table, verify_to_json

DIGEST = "sha256:" + "ab" * 32


def render(table: object) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_history_table_and_json(journal: SqliteJournal) -> None:
    entry = journal.append(
        NewEntry(
            kind=EntryKind.VERIFIED,
            environment="prod",
            service="api",
            digest_before=DIGEST.replace("ab", "cd"),
            digest_after=DIGEST,
            deployment_id="ecs-svc/42",
            details={"tasks": 3},
        )
    )
    console = Console(width=200, record=True)
    console.print(history_table([entry]).render(console))
    text = console.export_text()
    assert "verified" in text and "sha256:abababababab" in text and "tasks=3" in text
    data = entry_to_json(entry)
    assert json.loads(json.dumps(data)) == data
    assert data["timestamp"].endswith("+00:00") and data["kind"] == "verified"


def test_verify_table_and_json(journal: SqliteJournal) -> None:
    journal.append(NewEntry(kind=EntryKind.NOTE, environment="dev"))
    result = journal.verify()
    assert "intact" in render(verify_table(result))
    assert verify_to_json(result)["ok"] is True
