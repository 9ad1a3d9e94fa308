"""`fraudlog alerts [--status S]` and `fraudlog alerts retry ID`: the alerts outbox.

The store, the relay and rich are imported by the action that uses them, so `--help` starts at once.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, get_args

from fraudlog.cli.context import open_engine_to_read
from fraudlog.cli.output import prints_to_a_pipe, table_console
from fraudlog.config import Settings
from fraudlog.responses.statuses import AlertStatus


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("alerts", help="print the alerts outbox, or retry a failed alert")
    parser.add_argument("--status", choices=get_args(AlertStatus), help="only alerts in this delivery state")
    parser.add_argument("--card-id", help="only this card's alerts")
    parser.add_argument("--limit", type=int, default=50, help="the newest N alerts (default 50)")
    parser.add_argument("--json", action="store_true", help="print the alerts as JSON")
    parser.set_defaults(run=prints_to_a_pipe(_list))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    retry = actions.add_parser("retry", help="put a failed alert back to pending")
    retry.add_argument("alert_id", help="the alert's id, as `fraudlog alerts` prints it")
    retry.set_defaults(run=_retry)
    secret = actions.add_parser("webhook-secret", help="print the webhook secret in the Standard Webhooks "
                                                       "form (whsec_...) for the receiver's configuration")
    secret.set_defaults(run=_webhook_secret)


def _list(args: argparse.Namespace) -> int:
    import msgspec
    from rich.table import Table

    from fraudlog.store.outbox import list_alerts
    from fraudlog.views.alerts import alert_item

    page = list_alerts(open_engine_to_read(), status=args.status, card_id=args.card_id, limit=args.limit)
    items = [alert_item(a) for a in page.items]
    if args.json:  # the documents `GET /v1/alerts` answers with
        print(json.dumps(msgspec.to_builtins(items), indent=2))
        return 0
    table = Table("alert", "transaction", "card", "score", "threshold", "version", "created", "status",
                  "attempts", "last error")
    table.columns[0].no_wrap = True  # the whole id: it is what `fraudlog alerts retry ID` takes
    for a in items:
        table.add_row(a.alert_id, a.transaction_id, a.card_id or "-", f"{a.score:.4f}", f"{a.threshold:.4f}",
                      str(a.model_version), a.created_at[:19], a.status, str(a.attempts), (a.last_error or "")[:40])
    table_console().print(table)
    if page.next_cursor:
        print(f"(more: newest {len(items)} shown; use --limit)")
    return 0


def _webhook_secret(args: argparse.Namespace) -> int:
    from fraudlog.alerts.relay import webhook_secret
    from fraudlog.alerts.signing import standard_secret

    # The secret a receiver's Standard Webhooks library takes: base64 of the key we sign with, behind whsec_.
    settings = Settings.from_env()
    print(standard_secret(webhook_secret(settings)))
    return 0


def _retry(args: argparse.Namespace) -> int:
    from fraudlog.store.outbox import retry_alert

    if not retry_alert(open_engine_to_read(), args.alert_id):
        raise ValueError(f"no failed alert {args.alert_id!r}")
    print(f"alert {args.alert_id} is pending again")
    return 0
