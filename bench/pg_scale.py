"""Postgres at scale: the hot queries' plans and timings on a 1,000,000-event log.

    python -m bench.pg_scale [--events 1000000] [--keep]

Loads a throwaway database with COPY (events, champion predictions for all but the newest 1,000, labels
for 2 %), then calls the store's own read functions on the hot paths (appending's duplicate lookup, scoring's
reads, replay's range read, the sweeper's scan, the transaction lookup), captures the SELECT statements they
send, and runs EXPLAIN (ANALYZE, BUFFERS) on each: per query, the plan's access path and the median execution
time of 5 runs. Capturing rather than rewriting the queries means the plans are those of the code as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from rich.progress import Progress
from sqlalchemy import event

from bench.load.databases import fresh_database, libpq_url
from bench.load.tables import print_table
from fraudlog.domain.events import EVENT_TRANSACTION, digest, format_time
from fraudlog.domain.features import HistoryQuery
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.history import fetch_history
from fraudlog.store.predictions import existing_predictions, unscored_positions
from tests.support.data import transaction_event_from_body

START = datetime(2026, 1, 1, tzinfo=UTC)
CARDS = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_scale", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    with fresh_database("postgres", prefix="fraudlog_scale", keep=args.keep) as db:
        engine = create_engine(db.url)
        load(libpq_url(db.url), args.events)
        report(engine, args.events)
        engine.dispose()


def rows(n: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(7)
    for i in range(1, n + 1):
        moment = START + timedelta(seconds=i * 2.5)
        tx = f"tx-{i:09d}"
        payload = {"transaction_id": tx, "card_id": f"card-{rng.randrange(CARDS)}", "event_time": format_time(moment),
                   "amount": round(rng.expovariate(1 / 60), 2),
                   "attributes": {f"V{k}": round(rng.gauss(0, 1), 4) for k in range(1, 29)}}
        yield i, tx, payload["card_id"], moment, digest(payload), json.dumps(payload)


def load(url: str, n: int) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn, Progress() as progress:
        task = progress.add_task("loading events, predictions, labels", total=n)
        conn.execute("ALTER TABLE events DISABLE TRIGGER USER")  # the loader is a superuser seeding a copy
        with conn.cursor() as cur:
            with cur.copy("COPY events (position, event_type, transaction_id, card_id, event_time, recorded_at, "
                          "digest, payload) FROM STDIN") as copy:
                for position, tx, card, moment, dig, payload in rows(n):
                    copy.write_row((position, EVENT_TRANSACTION, tx, card, moment, now, dig, payload))
                    if position % 10_000 == 0:
                        progress.update(task, completed=position)
            with cur.copy("COPY predictions (transaction_id, model_version, position, champion, score, threshold, "
                          "features, event_time, recorded_at, scored_at) FROM STDIN") as copy:
                for position, tx, _, moment, _, _ in rows(n - 1_000):
                    copy.write_row((tx, 1, position, True, 0.5, 0.9, "{}", moment, now, now))
        conn.execute("ALTER TABLE events ENABLE TRIGGER USER")
        conn.execute("SELECT setval(pg_get_serial_sequence('events', 'position'), %s)", (n,))
        conn.execute("INSERT INTO labels (transaction_id, is_fraud, labeled_at, position, corrections) "
                     "SELECT transaction_id, random() < 0.05, now(), position, 0 FROM events "
                     "WHERE position % 50 = 0")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def hot_path_reads(n: int) -> dict[str, Callable[[sa.Engine], Any]]:
    """The store's read functions on the hot paths, called as the service calls them on an n-event log."""
    ids = [f"tx-{i:09d}" for i in range(n - 999, n + 1)]
    history = HistoryQuery(frozenset(f"card-{c}" for c in range(0, CARDS, 50)),
                           START + timedelta(seconds=(n - 1_000) * 2.5) - timedelta(days=1), n - 999)
    now = datetime.now(UTC)

    def duplicate_lookup(engine: sa.Engine) -> Any:
        # Re-appending ids that are in the log writes nothing: every one is a duplicate or a conflict.
        return EventLog(engine).append_transactions([[_event(tx) for tx in ids]])

    def card_history(engine: sa.Engine) -> Any:
        with engine.connect() as conn:
            return fetch_history(conn, history)

    def predictions_of_one(engine: sa.Engine) -> Any:
        with engine.connect() as conn:
            return existing_predictions(conn, [f"tx-{n // 3:09d}"])

    return {
        "append: look up 1,000 ids (idempotency)": duplicate_lookup,
        "score: read 1,000 positions": lambda e: EventLog(e).read_transactions(list(range(n - 999, n + 1))),
        "score: history of 1,000 cards (one query)": card_history,
        "replay: read 1,000 events by range": lambda e: list(EventLog(e).walk(n // 2, n // 2 + 999)),
        "sweep: unscored after a watermark": lambda e: unscored_positions(
            e, after=n - 5_000, first_scorable=1, recorded_before=now, limit=100_000),
        "sweep: unscored, whole log (first sweep)": lambda e: unscored_positions(
            e, after=0, first_scorable=1, recorded_before=now, limit=100_000),
        "transaction view: by id": lambda e: EventLog(e).get_transaction(f"tx-{n // 3:09d}"),
        "predictions of one transaction": predictions_of_one,
    }


def _event(transaction_id: str) -> Any:
    return transaction_event_from_body({"transaction_id": transaction_id, "card_id": "card-0",
                                        "event_time": format_time(START), "amount": 1.0, "attributes": {}})


@contextlib.contextmanager
def captured_selects(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (and their parameters) `engine` sends to the server while inside."""
    found: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and statement.strip() != "SELECT 1":
            found.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def explain(conn: sa.Connection, statement: str, parameters: Any) -> tuple[str, float]:
    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters).scalar_one()[0]
    return _access_paths(plan["Plan"]), float(plan["Execution Time"])


def _access_paths(node: dict[str, Any]) -> str:
    found = []
    if "Scan" in node["Node Type"]:
        found.append(f"{node['Node Type']}" + (f" on {node['Index Name']}" if "Index Name" in node else
                                                f" on {node.get('Relation Name', '?')}"))
    for child in node.get("Plans", []):
        found.append(_access_paths(child))
    return "; ".join(f for f in found if f)


def report(engine: sa.Engine, n: int) -> None:
    rows = []
    for name, call in hot_path_reads(n).items():
        with captured_selects(engine) as statements:
            call(engine)
        with engine.connect() as conn:
            for number, (statement, parameters) in enumerate(statements, start=1):
                timings, plan = [], ""
                for _ in range(5):
                    plan, ms = explain(conn, statement, parameters)
                    timings.append(ms)
                label = name if len(statements) == 1 else f"{name} ({number}/{len(statements)})"
                rows.append((label, re.sub(r"\s+", " ", plan), f"{statistics.median(timings):.1f}"))
    with engine.connect() as conn:
        size = conn.exec_driver_sql("SELECT pg_size_pretty(pg_total_relation_size('events'))").scalar_one()
    print_table(f"Postgres, {n:,} events", ("query", "plan (access paths)", "median ms"), rows)
    print(f"events table with indexes: {size}")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"done in {time.monotonic() - started:.0f} s")
