"""Printing result tables: rich tables on a terminal, and plain fixed-width lines for logs."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

# A wide console when the output is a file, so a table in a log keeps one line per row.
console = Console() if Console().is_terminal else Console(width=180)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def milliseconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"
