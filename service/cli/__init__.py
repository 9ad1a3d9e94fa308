"""The `fraudlog` command. Each subcommand lives in its own module, named in `COMMANDS`.

Only the command being run is imported: its module registers its arguments (`register(subparsers)`) and
brings in what it needs, so `fraudlog --help`, `--version` and a client command do not pay for the server
(River, SQLAlchemy, Litestar and Dramatiq took 5-10 s to import, issue 30). Every other command is listed by
its name and summary alone. `tests/unit/test_cli_startup.py` pins which heavy modules stay out.

To add a command: write `service/cli/<name>.py` with a `register(subparsers)` as the others have, and add one
`Command(...)` line below with the same summary as its `add_parser(help=...)`.

Exit codes: 0 success, 1 failure (a one-line message on stderr), 2 bad usage (argparse's own).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import fraudlog


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # its `register(subparsers)` adds the parser, its arguments and the `run` it calls
    summary: str  # what `fraudlog --help` lists: the same text as the module's `add_parser(help=...)`


COMMANDS = (
    Command("demo", "fraudlog.cli.demo", "run the embedded default end to end and show the results"),
    Command("db", "fraudlog.cli.db", "apply or inspect schema migrations"),
    Command("serve", "fraudlog.cli.serve", "run the HTTP API"),
    Command("worker", "fraudlog.cli.worker",
            "run Dramatiq worker processes (score, deliver_alerts, sweep), restarting any that dies"),
    Command("scheduler", "fraudlog.cli.scheduler", "run the sweeping and retraining schedule; one per deployment"),
    Command("relay", "fraudlog.cli.relay", "deliver pending alerts in a loop (safe to run several)"),
    Command("train", "fraudlog.cli.train", "import a labelled creditcard.csv file into the log and train on it"),
    Command("models", "fraudlog.cli.models", "list, show, promote and retire model versions"),
    Command("alerts", "fraudlog.cli.alerts", "print the alerts outbox, or retry a failed alert"),
    Command("cards", "fraudlog.cli.cards",
            "suppress a card's customer alerts until an event time, end that, or list its suppressions"),
    Command("drift", "fraudlog.cli.drift", "print the drift detections, newest first"),
    Command("stats", "fraudlog.cli.stats", "events, scored, backlog and alerts, read from the database"),
    Command("simulate", "fraudlog.cli.simulate", "stream a creditcard.csv file to a running API"),
    Command("tail", "fraudlog.cli.tail", "follow the predictions of a running API as they are made"),
    Command("keys", "fraudlog.cli.keys", "create API keys"),
    Command("replay", "fraudlog.cli.replay",
            "re-derive features and scores from the log and compare with the stored predictions"),
    Command("rebuild", "fraudlog.cli.rebuild",
            "rebuild every derived table into an empty database from the event log alone"),
    Command("rescore", "fraudlog.cli.rescore",
            "score again transactions a model could not score (recorded scoring failures)"),
    Command("explain", "fraudlog.cli.explain", "the reasons behind a transaction's scores"),
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: the command it names is registered in full (its module imported), every other
    by name and summary only. Without `argv`, every command in full (what tests and documentation want)."""
    chosen = None if argv is None else command_named(argv)
    parser = argparse.ArgumentParser(
        prog="fraudlog", description="Streaming fraud scoring on an append-only event log.")
    parser.add_argument("--version", action="version", version=f"fraudlog {fraudlog.__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        if argv is None or command.name == chosen:
            importlib.import_module(command.module).register(subparsers)
        else:
            subparsers.add_parser(command.name, help=command.summary)
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The command `argv` runs: its first word that is not an option (the top level's options take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    from fraudlog.cli.errors import one_line_failure
    from fraudlog.logs import configure_logging

    try:
        configure_logging()
        result = args.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = one_line_failure(exc)
        if message is None:
            raise
        print(f"fraudlog {args.command}: {message}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
