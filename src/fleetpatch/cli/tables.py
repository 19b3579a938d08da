"""Tables that a person can read at any terminal width, from 80 columns up.

Rich alone squeezes a table that is too wide by wrapping every cell, which cuts names and
digests into fragments. A `FitTable` instead keeps what it shows whole:

1. every column in its full form, if the table fits;
2. else the columns that have a short form use it (shorter digests, times without seconds);
3. else columns are dropped, least useful first (`Column.drop`, lowest first), and the
   caption names them (`--json` has every field).

Name columns never wrap and never fold: a service name reads whole on its line (it ends in
"…" only if even the narrowest form cannot fit). No cell folds a word in two.

Lines of prose above a table (`status`'s deadlines) follow the same rule through `wrap_line`:
whole when they fit, else broken at their clauses ("; "), then at spaces, continuation lines
indented.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.box import SIMPLE
from rich.console import Console
from rich.table import Table
from rich.text import Text

CellText = str | Text

# Measured without a limit: the width the table needs to show every cell unwrapped.
_UNLIMITED = 10_000


@dataclass(frozen=True)
class Cell:
    """A cell with a short form for narrow terminals, e.g. a digest with and without its
    algorithm prefix."""

    full: CellText
    short: CellText


@dataclass(frozen=True)
class Column:
    header: str
    # Dropped when the table doesn't fit: lowest rank first; None: always shown.
    drop: int | None = None
    # A name (service, cluster/service): never wrapped, kept whole as long as possible.
    name: bool = False
    justify: Literal["left", "right"] = "left"


class FitTable:
    """Columns declared once, rows added as for a Rich Table, then `render(console)`."""

    def __init__(self, title: str | None, columns: Sequence[Column]) -> None:
        self.title = title
        self.columns = tuple(columns)
        self.rows: list[tuple[CellText | Cell, ...]] = []

    def add_row(self, *cells: CellText | Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(cells)

    def render(self, console: Console) -> Table:
        """The fullest form of this table that fits `console`'s width."""
        width = console.width
        table = self._table(short=False, hidden=())
        if _needed(console, table) <= width:
            return table
        hidden: list[int] = []
        table = self._table(short=True, hidden=hidden)
        droppable = sorted((c.drop, i) for i, c in enumerate(self.columns) if c.drop is not None)
        for _, index in droppable:
            if _needed(console, table) <= width:
                break
            hidden.append(index)
            table = self._table(short=True, hidden=hidden)
        return table

    def _table(self, *, short: bool, hidden: Sequence[int]) -> Table:
        caption = None
        if hidden:
            names = ", ".join(self.columns[i].header for i in sorted(hidden))
            caption = f"not shown: {names} (widen the terminal, or --json)"
        table = Table(
            title=self.title,
            title_justify="left",
            caption=caption,
            caption_justify="left",
            box=SIMPLE,
            show_edge=False,
            pad_edge=False,
        )
        shown = [i for i in range(len(self.columns)) if i not in hidden]
        for i in shown:
            column = self.columns[i]
            table.add_column(
                column.header,
                justify=column.justify,
                no_wrap=column.name,
                # Never fold a word in two: a cell too narrow for a word ends in "…".
                overflow="ellipsis",
                min_width=self._widest(i, short) if column.name else None,
            )
        for row in self.rows:
            table.add_row(*(_pick(row[i], short) for i in shown))
        return table

    def _widest(self, index: int, short: bool) -> int:
        cells = [_pick(row[index], short) for row in self.rows]
        lengths = [(Text.from_markup(c) if isinstance(c, str) else c).cell_len for c in cells]
        return max([len(self.columns[index].header), *lengths])


def _pick(cell: CellText | Cell, short: bool) -> CellText:
    if isinstance(cell, Cell):
        return cell.short if short else cell.full
    return cell


def _needed(console: Console, table: Table) -> int:
    return console.measure(table, options=console.options.update_width(_UNLIMITED)).maximum


# Continuation lines of a wrapped line start this far in, so each line reads as part of one.
WRAP_INDENT = "    "


def wrap_line(text: str, width: int, indent: str = WRAP_INDENT) -> list[str]:
    """`text` as lines of at most `width` columns: whole if it fits; else packed by clauses
    (split after "; ", the separator kept at the end of its line), a clause too long for a
    line broken at spaces. Never breaks a word (a word wider than a line stands alone)."""
    if len(text) <= width:
        return [text]
    clauses = [c + ";" for c in text.split("; ")]
    clauses[-1] = clauses[-1][:-1]
    lines: list[str] = []
    current = ""
    for clause in clauses:
        prefix = indent if lines or current else ""
        candidate = f"{current} {clause}" if current else prefix + clause
        if len(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        pieces = textwrap.wrap(
            clause,
            width=width,
            initial_indent=indent if lines else "",
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend(pieces[:-1])
        current = pieces[-1] if pieces else ""
    if current:
        lines.append(current)
    return lines
