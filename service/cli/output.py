"""How commands print: tables whole off a terminal, and a closed pipe (`fraudlog alerts | head`) ends quietly.

A command's `run` that prints is wrapped in `prints_to_a_pipe`; its tables go to `table_console()`.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# Off a terminal nothing is cut: a pipe or a file has no width, and "cham..." helps no grep.
UNBOUNDED_WIDTH = 100_000

Run = Callable[[argparse.Namespace], int]


def table_console() -> Console:
    """A console that fits the terminal, or prints every table at its whole width when stdout is not one.
    rich is imported here, not with the module: `fraudlog <command> --help` never needs it."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich's own answer is exit 1; `prints_to_a_pipe` makes every command end alike, with 0.
            raise BrokenPipeError

    if sys.stdout.isatty():
        return _Console()
    return _Console(width=UNBOUNDED_WIDTH)


def prints_to_a_pipe(run: Run) -> Run:
    """`run`, ending with exit 0 and nothing on stderr when the reader of stdout has gone (`| head`): it
    asked for no more, so neither a traceback nor `[Errno 32] Broken pipe` is news to anyone."""

    @functools.wraps(run)
    def run_until_the_reader_goes(args: argparse.Namespace) -> int:
        try:
            result = run(args)
            sys.stdout.flush()  # here, not at exit, where the error could no longer be caught
            return result
        except BrokenPipeError:
            _discard_stdout()
            return 0

    return run_until_the_reader_goes


def _discard_stdout() -> None:
    # Python flushes stdout once more when it exits; what is still buffered would fail again, so the rest
    # goes nowhere (the recipe of Python's own documentation on SIGPIPE).
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
