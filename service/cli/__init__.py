"""The `fraudlog` command. Each subcommand lives in its own module and registers itself here.

Exit codes: 0 success, 1 failure (a one-line message on stderr), 2 bad usage (argparse's own).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import sqlalchemy as sa

import service
from service.cli import (
    alerts,
    db,
    demo,
    drift,
    explain,
    keys,
    models,
    rebuild,
    relay,
    replay,
    rescore,
    scheduler,
    serve,
    simulate,
    stats,
    tail,
    train,
    worker,
)
from service.cli.errors import CommandFailed
from service.config import ConfigError
from service.logs import configure_logging
from service.ml.artifact import ArtifactRejected
from service.store.errors import StoreError
from workers.scheduler import SchedulerAlreadyRunning

COMMANDS = (demo, db, serve, worker, scheduler, relay, train, models, alerts, drift, stats, simulate, tail, keys,
            replay, rebuild, rescore, explain)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fraudlog", description="Streaming fraud scoring on an append-only event log.")
    parser.add_argument("--version", action="version", version=f"fraudlog {service.__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configure_logging()
        result = args.run(args)
    except (CommandFailed, ConfigError, StoreError, SchedulerAlreadyRunning, ValueError, OSError, LookupError) as exc:
        print(f"fraudlog {args.command}: {exc}", file=sys.stderr)
        return 1
    except sa.exc.DBAPIError as exc:  # the database is down or refused: one line, not a traceback
        print(f"fraudlog {args.command}: database error: {str(exc.orig).splitlines()[0]}", file=sys.stderr)
        return 1
    except ArtifactRejected as exc:
        print(f"fraudlog {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
