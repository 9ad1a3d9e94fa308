"""`fraudlog relay`: deliver pending alerts from the outbox in a loop (any number may run at once)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from service.alerts.relay import RelaySettings, deliver_pending, sink_from_settings
from service.cli.context import open_store

log = logging.getLogger("fraudlog.relay")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("relay", help="deliver pending alerts in a loop (safe to run several)")
    parser.add_argument("--every", type=float, default=0.5, help="seconds to wait when nothing is due")
    parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    parser.set_defaults(run=_relay)


def _relay(args: argparse.Namespace) -> int:
    store = open_store()
    relay = RelaySettings.from_env()
    sink = sink_from_settings(store.settings, relay)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"relay delivering to {store.settings.alert_sink.split('?')[0]}", flush=True)
    while not stop.is_set():
        report = deliver_pending(store.engine, sink, batch_size=relay.batch_size,
                                 visibility_timeout=relay.visibility_timeout, max_attempts=relay.max_attempts,
                                 base_delay=relay.base_delay, max_delay=relay.max_delay)
        if report.sent or report.gave_up:
            log.info("delivered %d alerts, %d gave up", report.sent, report.gave_up)
        if args.once:
            break
        if not report.sent:
            stop.wait(args.every)
    sink.close()
    return 0
