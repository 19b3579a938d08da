"""FitTable's choice of columns, for any names, cells and terminal width."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from fleetpatch.cli.tables import WRAP_INDENT, Cell, Column, FitTable, wrap_line

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-/", min_size=1, max_size=30).filter(
    lambda name: name.strip("-/") == name
)
WORDS = st.text(alphabet="abcdef0123456789 :.", min_size=0, max_size=40)
COLUMNS = (
    Column("service", name=True),
    Column("digest"),
    Column("notes", drop=1),
    Column("when", drop=2),
)


def rows() -> st.SearchStrategy[list[tuple[str, str, str, str]]]:
    return st.lists(st.tuples(NAMES, WORDS, WORDS, WORDS), min_size=1, max_size=8)


def printed(table: FitTable, width: int) -> tuple[list[str], int]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    rendered = table.render(console)
    console.print(rendered)
    return out.getvalue().splitlines(), len(rendered.columns)


def build(data: list[tuple[str, str, str, str]]) -> FitTable:
    table = FitTable("fleet", COLUMNS)
    for name, digest, notes, when in data:
        table.add_row(name, Cell(f"sha256:{digest}", digest), notes, when)
    return table


@settings(max_examples=60, deadline=None)
@given(rows(), st.integers(min_value=50, max_value=200))
def test_never_wider_than_the_terminal_and_names_whole(
    data: list[tuple[str, str, str, str]], width: int
) -> None:
    lines, _ = printed(build(data), width)
    assert all(len(line) <= width for line in lines)
    # Names (at most 30 characters here) never wrap: the other columns give way to them.
    for name, *_ in data:
        assert any(name in line for line in lines), (name, lines)


@settings(max_examples=60, deadline=None)
@given(rows(), st.integers(min_value=50, max_value=150), st.integers(min_value=1, max_value=80))
def test_a_wider_terminal_never_shows_fewer_columns(
    data: list[tuple[str, str, str, str]], width: int, more: int
) -> None:
    table = build(data)
    _, narrow = printed(table, width)
    _, wide = printed(table, width + more)
    assert wide >= narrow


def test_every_column_in_full_when_it_fits() -> None:
    table = build([("api", "0123abcd", "ok", "09:00")])
    lines, shown = printed(table, 200)
    assert shown == 4
    assert any("sha256:0123abcd" in line for line in lines)
    assert not any(line.startswith("not shown") for line in lines)


PROSE_WORDS = st.lists(
    st.text(alphabet="abcdefghij0123456789-():,", min_size=1, max_size=12), min_size=1, max_size=30
)


@settings(max_examples=200, deadline=None)
@given(st.lists(PROSE_WORDS, min_size=1, max_size=5), st.integers(min_value=20, max_value=200))
def test_a_wrapped_line_keeps_every_word_whole_and_in_order(
    clauses: list[list[str]], width: int
) -> None:
    text = "; ".join(" ".join(words) for words in clauses)
    lines = wrap_line(text, width)
    assert all(len(line) <= width for line in lines), lines
    # The same words, none broken, in the same order; the continuation lines indented.
    assert " ".join(lines).split() == text.split()
    assert all(line.startswith(WRAP_INDENT) for line in lines[1:])
    assert not lines[0].startswith(" ")
    if len(text) <= width:
        assert lines == [text]


def test_a_line_breaks_at_its_clauses_first() -> None:
    line = (
        "prod: 12 services run a digest with CVE-2024-4323 (critical); "
        "fix available since 2026-11-20; due 2026-12-20 (23 days)"
    )
    assert wrap_line(line, 80) == [
        "prod: 12 services run a digest with CVE-2024-4323 (critical);",
        "    fix available since 2026-11-20; due 2026-12-20 (23 days)",
    ]
    assert wrap_line(line, 200) == [line]
