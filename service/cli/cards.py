"""`fraudlog cards suppress|unsuppress|suppressions CARD`: hold back a card's customer alerts until an event time,
end that early, list what was done (docs/outcomes.md, "Suppression"). Each change is an event in the log, with
`--actor` (default `cli:<user>`) as who made it.

The store is imported by the action that uses it, so `--help` starts at once.
"""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from fraudlog.cli.context import open_engine, open_engine_to_read
from fraudlog.cli.output import prints_to_a_pipe, table_console

SUMMARY = "suppress a card's customer alerts until an event time, end that, or list its suppressions"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cards", help=SUMMARY)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    suppress = actions.add_parser("suppress", help="hold back the card's customer alerts until an event time")
    suppress.add_argument("card_id", help="the card whose alerts to hold back")
    suppress.add_argument("--until", required=True, help="RFC 3339 with an offset: transactions from then alert")
    suppress.add_argument("--reason", required=True, help="why, for the audit trail (1-500 characters)")
    suppress.add_argument("--actor", default=None, help="who asked (default cli:<user>)")
    suppress.set_defaults(run=_suppress)
    end = actions.add_parser("unsuppress", help="end a suppression now: the card's later transactions alert again")
    end.add_argument("card_id", help="the card of the suppression")
    end.add_argument("suppression_id", help="the suppression's id, as `fraudlog cards suppressions` prints it")
    end.add_argument("--actor", default=None, help="who asked (default cli:<user>)")
    end.set_defaults(run=_unsuppress)
    listed = actions.add_parser("suppressions", help="the card's suppressions, oldest first")
    listed.add_argument("card_id", help="the card whose suppressions to list")
    listed.add_argument("--json", action="store_true", help="print them as JSON")
    listed.set_defaults(run=prints_to_a_pipe(_list))


def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


def _suppress(args: argparse.Namespace) -> int:
    import msgspec

    from fraudlog.alerts.suppressions import suppress
    from fraudlog.domain.events import SuppressionIn

    try:
        request = msgspec.convert({"until": args.until, "reason": args.reason}, SuppressionIn)
    except msgspec.ValidationError as exc:
        print(f"fraudlog cards suppress: {exc}")
        return 1
    change = suppress(open_engine(), args.card_id, request, _actor(args))
    print(f"{'already recorded' if change.duplicate else 'suppressed'}: {_line(change.suppression)}")
    return 0


def _unsuppress(args: argparse.Namespace) -> int:
    from fraudlog.alerts.suppressions import UnknownSuppression, end

    try:
        change = end(open_engine(), args.card_id, args.suppression_id, _actor(args))
    except UnknownSuppression as exc:
        print(f"fraudlog cards unsuppress: {exc}")
        return 1
    print(f"{'already ended' if change.duplicate else 'ended'}: {_line(change.suppression)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from fraudlog.alerts.suppressions import of_card
    from fraudlog.domain.events import format_time

    suppressions = of_card(open_engine_to_read(), args.card_id)
    if args.json:
        print(json.dumps([{"suppression_id": s.suppression_id, "card_id": s.card_id, "until": format_time(s.until),
                           "reason": s.reason, "actor": s.actor, "position": s.position, "ended_at": s.ended_at}
                          for s in suppressions], indent=2))
        return 0
    table = Table("suppression", "until", "reason", "actor", "from position", "ended at")
    table.columns[0].no_wrap = True  # the whole id: it is what `fraudlog cards unsuppress` takes
    for s in suppressions:
        table.add_row(s.suppression_id, format_time(s.until)[:19], s.reason, s.actor, str(s.position),
                      "-" if s.ended_at is None else str(s.ended_at))
    table_console().print(table)
    return 0


def _line(suppression: Any) -> str:
    ended = "" if suppression.ended_at is None else f", ended at position {suppression.ended_at}"
    return (f"{suppression.suppression_id} card {suppression.card_id} until {suppression.until.isoformat()} "
            f"({suppression.reason}) from position {suppression.position}{ended}")
