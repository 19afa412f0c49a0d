"""Terminal output shared by the commands: messages, tables and progress (rich on a terminal, plain lines otherwise)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

import click
from rich.console import Console
from rich.table import Table

__all__ = ["say", "print_table", "console", "is_terminal"]

# off a terminal (CronJob logs, pipes) rich would assume 80 columns and squeeze the tables
console = Console(stderr=False, highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def is_terminal() -> bool:
    return sys.stdout.isatty()


def say(message: str) -> None:
    """A progress/status line for the user, on stderr so stdout stays machine-readable."""
    click.echo(message, err=True)


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    table = Table(title=title, show_lines=False, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(_fmt(v) for v in row))
    console.print(table)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
