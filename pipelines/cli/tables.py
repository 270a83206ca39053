"""Tables for the command line, drawn by rich: styled on a terminal, plain columns otherwise.

Every cell is a ``rich.text.Text``, never markup, made of ``plain_text``: provider text such as
``[bold]`` is shown as data, secrets are masked, control characters (an escape sequence) and
bidi overrides cannot reach the terminal, and a cell stays on one line. rich is imported when a
table is drawn: ``--json`` output and ``--help`` do without it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pipelines.net.markup import plain_text

if TYPE_CHECKING:
    from rich.table import Table

PLAIN_WIDTH = 100_000  # plain output is never wrapped: one line per row, for scripts and logs


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, styled: bool) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(
        box=None, pad_edge=False, show_edge=False, header_style="bold" if styled else "",
        padding=(0, 1),
    )  # fmt: skip
    for name in header:
        table.add_column(Text(name), no_wrap=not styled, overflow="fold")
    for row in rows:
        table.add_row(*(Text(plain_text(cell)) for cell in row))
    return table


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned plain-text columns, two spaces apart, no trailing blanks."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=PLAIN_WIDTH, color_system=None,
                      force_terminal=False, legacy_windows=False)  # fmt: skip
    console.print(_table(header, rows, styled=False))
    text = console.file.getvalue()
    return "\n".join(line.rstrip() for line in text.splitlines())


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """The table on stdout: styled to the terminal's width there, plain columns otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console

        Console(highlight=False).print(_table(header, rows, styled=True))
    else:
        sys.stdout.write(format_table(header, rows) + "\n")
