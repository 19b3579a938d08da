"""`inventory`, `history`, `plan` and `status` read whole in an 80-column terminal, and show
their other columns again when the terminal is wider (the talk's fleet after dev's patch);
`status`'s deadline lines wrap at their clauses at 80 columns and are whole when wider.

Rich takes the width from the terminal, else from $COLUMNS, as a script's output would.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleetpatch.cli.app import run
from fleetpatch.cli.output import console
from fleetpatch.sim import Simulator
from tests.report.helpers import PatchedDev, patch_dev

COMMANDS = {
    "inventory": ["inventory"],
    "history": ["history", "--limit", "0"],
    "plan": ["plan", "--env", "stg"],
    "status": ["status"],
}
# What a wide terminal adds back, per command (dropped at 80 columns, named in the caption).
WIDE_ONLY = {
    "inventory": ["task def", "sidecar"],
    "history": ["seq", "actor", "env", "deployment", "details"],
    "status": ["sidecar", "oldest"],
}


@pytest.fixture
def patched(talk_sim: Simulator, tmp_path: Path) -> PatchedDev:
    return patch_dev(talk_sim, tmp_path)


def render(
    patched: PatchedDev,
    command: str,
    columns: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(columns))
    if console.width != columns:  # $COLUMNS was already set when the console was built
        monkeypatch.setattr(console, "width", columns)
    argv = ["--config", str(patched.config_path), *COMMANDS[command]]
    assert run(argv, now=patched.sim.clock.now) == 0
    return capsys.readouterr().out.splitlines()


def header(lines: list[str], first_column: str) -> str:
    return next(line for line in lines if line.startswith(first_column + " "))


@pytest.mark.parametrize("command", COMMANDS)
def test_readable_at_80_columns(
    command: str,
    patched: PatchedDev,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = render(patched, command, 80, monkeypatch, capsys)
    too_long = [line for line in lines if len(line.rstrip()) > 80]
    assert not too_long, too_long
    if command != "status":  # status counts services, it names none
        for name in patched.services:
            whole = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w…-])")
            assert any(whole.search(line) for line in lines), f"{name} not whole in {lines}"
    if command in WIDE_ONLY:
        caption = next(line for line in lines if line.startswith("not shown: "))
        for column in WIDE_ONLY[command]:
            assert column in caption


@pytest.mark.parametrize("command", COMMANDS)
def test_wider_terminals_show_every_column(
    command: str,
    patched: PatchedDev,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = render(patched, command, 160, monkeypatch, capsys)
    assert not [line for line in lines if len(line.rstrip()) > 160]
    assert not [line for line in lines if line.startswith("not shown: ")]
    first = {"inventory": "service", "history": "seq", "plan": "wave", "status": "env"}[command]
    columns = header(lines, first)
    for column in WIDE_ONLY.get(command, []):
        assert re.search(rf"(^| ){re.escape(column)}( |$)", columns), columns
    if command == "plan":
        # Room for the digests' algorithm and the whole task definition.
        assert "task definition" in columns
        assert any("sha256:9169c8cc…   admin-web:1" in line for line in lines)


DEADLINE = (
    "{env}: 12 services run a digest with CVE-2024-4323 (critical); "
    "fix available since 2026-11-20; due 2026-12-20 (23 days)"
)


@pytest.mark.parametrize("columns", [80, 200])
def test_status_deadlines_wrap_at_their_clauses_only_when_narrow(
    columns: int,
    patched: PatchedDev,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = render(patched, "status", columns, monkeypatch, capsys)
    top = lines[: next(i for i, line in enumerate(lines) if line.startswith("status at"))]
    if columns == 200:
        assert top == [DEADLINE.format(env=e) for e in ("prod", "stg")]
        return
    # Each deadline: its first clause, then the rest indented as its continuation.
    assert top == [
        part
        for env in ("prod", "stg")
        for part in (
            f"{env}: 12 services run a digest with CVE-2024-4323 (critical);",
            "    fix available since 2026-11-20; due 2026-12-20 (23 days)",
        )
    ]
