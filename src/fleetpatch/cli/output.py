"""Shared Rich consoles and message helpers for every command.

Results go to stdout (`console`), messages to stderr (`err_console`), so `--json` output
stays clean when piped. Message lines never wrap: one error is one line, whatever the
terminal width, so that logs and tests can rely on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

console = Console()
err_console = Console(stderr=True)


def print_error(message: str) -> None:
    """`error: <message>` on one stderr line."""
    _say("error: ", "bold red", message)


def print_warning(message: str) -> None:
    _say("warning: ", "bold yellow", message)


def print_note(message: str) -> None:
    _say("", "", message)


def print_json(data: Any) -> None:
    """Machine-readable output on stdout: plain JSON, no colour, no wrapping."""
    console.file.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    console.file.flush()


def _say(prefix: str, style: str, message: str) -> None:
    # markup/highlight off: a message may contain [brackets] from paths like environments[1].
    text = Text.assemble((prefix, style), message.replace("\n", " "))
    err_console.print(text, soft_wrap=True, markup=False, highlight=False)


def exit_if_unread(failures: Iterable[tuple[str, str | None]]) -> None:
    """Each unread environment's one-line error on stderr, then exit 1 if there was any.

    Called after the command wrote what it could: the environments that were read are still
    worth having, but a script must not mistake a partial result for a whole one.
    """
    unread = [(name, error) for name, error in failures if error]
    for name, error in unread:
        print_error(f"{name}: {error}")
    if unread:
        raise typer.Exit(1)
