"""`fraudlog --help`, `--version` and the client commands import only what they need (issue 30).

What is asserted is which heavy packages a command's start imports, never its time: the time depends on the
machine, the set of modules does not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from fraudlog.cli import COMMANDS, build_parser, command_named
from fraudlog.cli.errors import CommandFailed, one_line_failure
from tests.support.processes import REPO

# The server's dependencies: seconds of imports between them (River brings SciPy, scikit-learn, pandas).
HEAVY = ("river", "scipy", "sklearn", "numpy", "pandas", "sqlalchemy", "psycopg", "alembic", "litestar",
         "dramatiq", "uvicorn", "apscheduler", "cloudpickle", "httpx", "rich", "fraudlog.composition",
         "fraudlog.api", "fraudlog.store", "fraudlog.workers")

# Starts that import none of HEAVY: the top level, and the help of the commands a person runs by hand.
LIGHT_STARTS = [("--help",), ("--version",), ("stats", "--help"), ("alerts", "--help"), ("drift", "--help"),
                ("tail", "--help"), ("keys", "--help"), ("models", "--help"), ("models", "quality", "--help")]

PROBE = """
import json, sys
from fraudlog.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = json.loads({heavy!r})
print(json.dumps(sorted({{h for h in heavy for m in sys.modules if m == h or m.startswith(h + ".")}})))
"""


def heavy_modules_imported(*argv: str) -> set[str]:
    code = PROBE.format(heavy=json.dumps(HEAVY))
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", LIGHT_STARTS, ids=" ".join)
def test_the_start_of_a_command_imports_no_server_package(argv: tuple[str, ...]) -> None:
    assert heavy_modules_imported(*argv) == set()


def test_a_command_that_runs_imports_what_it_needs() -> None:
    """The probe sees imports at all: `db --help` registers `db`, whose module imports alembic and the store."""
    assert {"alembic", "sqlalchemy", "fraudlog.store"} <= heavy_modules_imported("db", "--help")


def test_every_command_is_listed_with_the_summary_its_module_gives() -> None:
    listing = {action.dest: action.help for action in _subcommands(build_parser())}
    assert listing == {command.name: command.summary for command in COMMANDS}


def test_a_parser_for_one_command_lists_every_command_and_parses_its_own() -> None:
    parser = build_parser(["stats", "--json"])
    assert [a.dest for a in _subcommands(parser)] == [c.name for c in COMMANDS]
    args = parser.parse_args(["stats", "--json"])
    assert args.json is True and callable(args.run)


def test_the_command_is_the_first_word_that_is_not_an_option() -> None:
    assert command_named(["--version"]) is None
    assert command_named(["models", "quality", "3"]) == "models"


def test_the_quality_defaults_in_the_help_are_the_reports() -> None:
    from fraudlog.views.quality import DEFAULT_BUCKET, DEFAULT_LIMIT

    assert (DEFAULT_BUCKET, DEFAULT_LIMIT) == ("1h", 200)  # spelled out in `service/cli/quality.py`'s help


def test_errors_are_one_line_by_class_even_when_named_rather_than_imported() -> None:
    from fraudlog.config import ConfigError
    from fraudlog.store.errors import StoreError

    assert one_line_failure(CommandFailed("no")) == "no"
    assert one_line_failure(ConfigError("bad setting")) == "bad setting"
    assert one_line_failure(StoreError("down")) == "down"
    assert one_line_failure(RuntimeError("bug")) is None


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(subparsers._choices_actions)
