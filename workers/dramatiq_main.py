"""`python -m fraudlog.workers.dramatiq_main fraudlog.workers.actors ...`: Dramatiq's own command line, with
fraudlog's log format in its parent and in every process it starts.

Dramatiq's CLI sets each of its processes up with `logging.basicConfig` and a plain-text format of its own, so a
worker's stderr mixed those lines with fraudlog's JSON (issue 31). Here the parent configures fraudlog's logging
first and runs Dramatiq with `--skip-logging`: its forked children inherit that configuration (the metrics
fork), and the worker processes set it up again when they import the actors (`fraudlog.workers.tasks`), writing to
the pipe Dramatiq has put in place of their stderr, whose lines the parent copies out unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from dramatiq.cli import main as dramatiq_main
from dramatiq.cli import make_argument_parser

from fraudlog.logs import configure_logging

SKIP_LOGGING = "--skip-logging"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if SKIP_LOGGING not in arguments:
        arguments.append(SKIP_LOGGING)
    configure_logging()
    return int(dramatiq_main(make_argument_parser().parse_args(arguments)) or 0)


if __name__ == "__main__":
    sys.exit(main())
