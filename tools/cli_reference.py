"""Write docs/cli.md from the CLI itself, so the reference never drifts from the code.

    .venv/bin/python tools/cli_reference.py > docs/cli.md

tests/test_cli_reference.py fails when docs/cli.md is not what this prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

# Importing the app registers every command group.
from fleetpatch.cli.app import app

HEADER = """# CLI reference

Generated from the code by `.venv/bin/python tools/cli_reference.py > docs/cli.md`; a test
keeps it current. Global options come before the command:
`fleetpatch [--config FILE] COMMAND ...`. Exit codes: 0 done, 1 an environment failed or a
rollout halted, 2 a user mistake (one line on stderr says what and how to fix it), 130
interrupted.
"""


def commands(group: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for name in sorted(group.commands):
        command = group.commands[name]
        if getattr(command, "hidden", False):
            continue
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):
            yield from commands(command, path)
        else:
            yield path, command


def option_row(param: Any) -> str | None:
    if getattr(param, "hidden", False):
        return None
    if param.param_type_name == "argument":
        name = (param.metavar or param.name or "").upper()
        return f"| `{name}` | argument | {getattr(param, 'help', None) or ''} |"
    flags = ", ".join(f"`{flag}`" for flag in param.opts + param.secondary_opts)
    default = param.default
    shown = ""
    if param.required:
        shown = " (required)"
    elif default not in (None, False, (), [], "") and not callable(default):
        shown = f" (default: `{default}`)"
    text = (param.help or "").replace("|", "\\|").replace("\n", " ")
    return f"| {flags} | option | {text}{shown} |"


def render() -> str:
    root = typer.main.get_command(app)
    lines = [HEADER]
    for path, command in commands(root, "fleetpatch"):
        lines.append(f"## `{path}`\n")
        summary = " ".join((command.help or "").split())
        if summary:
            lines.append(summary + "\n")
        rows = [row for row in map(option_row, command.params) if row]
        rows = [row for row in rows if "`--help`" not in row]
        if rows:
            lines.append("| name | kind | meaning |")
            lines.append("|---|---|---|")
            lines.extend(rows)
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
