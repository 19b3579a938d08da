"""Where the journal file lives: config, else FLEETPATCH_JOURNAL, else the user's data dir."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fleetpatch.errors import UserError
from fleetpatch.journal.sqlite import SqliteJournal

JOURNAL_ENV_VAR = "FLEETPATCH_JOURNAL"
JOURNAL_FILE_NAME = "journal.sqlite"


def default_journal_path(config_journal: Path | None) -> Path:
    """Resolve the journal path and create its parent directories.

    Order: the config's `journal` key, then $FLEETPATCH_JOURNAL, then
    $XDG_DATA_HOME/fleetpatch/journal.sqlite (default ~/.local/share/fleetpatch/...).
    """
    if config_journal is not None:
        path, origin = config_journal.expanduser(), "`journal` in fleetpatch.toml"
    elif os.environ.get(JOURNAL_ENV_VAR):
        path, origin = Path(os.environ[JOURNAL_ENV_VAR]).expanduser(), JOURNAL_ENV_VAR
    else:
        path, origin = _data_dir() / "fleetpatch" / JOURNAL_FILE_NAME, "the default location"
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


def open_journal(
    config_journal: Path | None, clock: Callable[[], datetime] | None = None
) -> SqliteJournal:
    """The journal the CLI uses: `SqliteJournal` at `default_journal_path`, stamping entries
    with `clock` (the command's wall clock; real UTC time by default)."""
    path = default_journal_path(config_journal)
    return SqliteJournal(path, clock=clock) if clock is not None else SqliteJournal(path)


def _data_dir() -> Path:
    # The XDG spec says to ignore a relative XDG_DATA_HOME.
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg)
    return Path.home() / ".local" / "share"
