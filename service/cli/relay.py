"""`fraudlog relay`: deliver pending alerts from the outbox in a loop (any number may run at once)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

import sqlalchemy as sa

from fraudlog.alerts.relay import deliver_pending
from fraudlog.alerts.schedule import RetrySchedule
from fraudlog.cli.context import open_store
from fraudlog.composition import build_sink
from fraudlog.redaction import redact_url
from fraudlog.store.errors import StoreError

log = logging.getLogger("fraudlog.relay")
DB_RETRY_SECONDS = 2.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("relay", help="deliver pending alerts in a loop (safe to run several)")
    parser.add_argument("--every", type=float, default=0.5, help="seconds to wait when nothing is due")
    parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    parser.set_defaults(run=_relay)


def _relay(args: argparse.Namespace) -> int:
    store = open_store()
    relay = store.settings.relay
    sink = build_sink(store.settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # A print, so it is not scrubbed by the log formatters: the URL must be redacted here.
    print(f"relay delivering to {redact_url(store.settings.alert_sink)}", flush=True)
    while not stop.is_set():
        try:
            report = deliver_pending(store.engine, sink, batch_size=relay.batch_size,
                                     visibility_timeout=relay.visibility_timeout, schedule=RetrySchedule.of(relay))
        except (StoreError, sa.exc.OperationalError) as exc:
            # The database restarting is not the relay's end: leased alerts come back after their timeout.
            log.warning("database unavailable (%s); retrying in %.0f s", str(exc).splitlines()[0], DB_RETRY_SECONDS)
            stop.wait(DB_RETRY_SECONDS)
            continue
        if report.sent or report.gave_up:
            log.info("delivered %d alerts, %d gave up", report.sent, report.gave_up)
        if args.once:
            break
        if not report.sent:
            stop.wait(args.every)
    sink.close()
    return 0
