"""Where the journal lives: config, else FLEETPATCH_JOURNAL, else a file in the user's data dir.

Either a SQLite file path (the default) or `dynamodb://TABLE`, whose S3 anchor bucket comes
from `journal_anchor` in the config, else FLEETPATCH_JOURNAL_ANCHOR.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from fleetpatch.config.journal import (
    DynamoDbTable,
    JournalSetting,
    parse_anchor,
    parse_journal,
)
from fleetpatch.errors import UserError
from fleetpatch.journal.sqlite import SqliteJournal, utc_now
from fleetpatch.journal.store import OpenJournal

JOURNAL_ENV_VAR = "FLEETPATCH_JOURNAL"
ANCHOR_ENV_VAR = "FLEETPATCH_JOURNAL_ANCHOR"
JOURNAL_FILE_NAME = "journal.sqlite"

_T = TypeVar("_T")


def journal_setting(config_journal: JournalSetting | None) -> JournalSetting:
    """The journal to open: a checked file path (parents created), or a DynamoDB table with
    its anchor bucket.

    Order: the config's `journal` key, then $FLEETPATCH_JOURNAL, then
    $XDG_DATA_HOME/fleetpatch/journal.sqlite (default ~/.local/share/fleetpatch/...).
    """
    if config_journal is not None:
        setting, origin = config_journal, "`journal` in fleetpatch.toml"
    elif os.environ.get(JOURNAL_ENV_VAR):
        setting, origin = _from_env(JOURNAL_ENV_VAR, parse_journal), JOURNAL_ENV_VAR
    else:
        setting, origin = _data_dir() / "fleetpatch" / JOURNAL_FILE_NAME, "the default location"
    if isinstance(setting, DynamoDbTable):
        return _with_anchor(setting, origin)
    return _checked_path(setting.expanduser(), origin)


def default_journal_path(config_journal: JournalSetting | None) -> Path:
    """The journal file's path (see `journal_setting`); an error for a DynamoDB journal."""
    setting = journal_setting(config_journal)
    if isinstance(setting, DynamoDbTable):
        raise UserError(f"the journal is the DynamoDB table {setting}, not a file")
    return setting


def open_journal(
    config_journal: JournalSetting | None, clock: Callable[[], datetime] | None = None
) -> OpenJournal:
    """The journal the CLI uses (`journal_setting`): a `SqliteJournal` or a `DynamoDbJournal`,
    stamping entries with `clock` (the command's wall clock; real UTC time by default)."""
    setting = journal_setting(config_journal)
    if isinstance(setting, DynamoDbTable):
        from fleetpatch.journal.dynamodb import connect  # boto3 only for this store

        return connect(setting, clock=clock or utc_now)
    return SqliteJournal(setting, clock=clock) if clock is not None else SqliteJournal(setting)


def _with_anchor(table: DynamoDbTable, origin: str) -> DynamoDbTable:
    if table.anchor is not None:
        return table
    if not os.environ.get(ANCHOR_ENV_VAR):
        raise UserError(
            f"journal {table} (from {origin}) needs its S3 Object Lock bucket for the chain's "
            f'anchors: set journal_anchor = "s3://BUCKET" in fleetpatch.toml or {ANCHOR_ENV_VAR}'
        )
    return DynamoDbTable(table.name, _from_env(ANCHOR_ENV_VAR, parse_anchor))


def _from_env(name: str, parse: Callable[[str], _T]) -> _T:
    try:
        return parse(os.environ[name].strip())
    except ValueError as exc:
        raise UserError(f"{name}: {exc}, got {os.environ[name]!r}") from None


def _checked_path(path: Path, origin: str) -> Path:
    if path.is_dir():
        raise UserError(
            f"journal {path} (from {origin}) is a directory; "
            f"point it at a file, e.g. {path / JOURNAL_FILE_NAME}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the journal's directory {path.parent} (from {origin}): "
            f"{exc.strerror or exc}; set {JOURNAL_ENV_VAR} or `journal` in fleetpatch.toml "
            "to a writable path"
        ) from exc
    return path


def _data_dir() -> Path:
    # The XDG spec says to ignore a relative XDG_DATA_HOME.
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg)
    return Path.home() / ".local" / "share"
