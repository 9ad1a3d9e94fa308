"""Postgres at scale: the hot queries' plans and timings on a 1,000,000-event log.

    python -m bench.pg_scale [--events 1000000] [--keep]

Loads a throwaway database with COPY (events, champion predictions for all but the newest 1,000, labels
for 2 %), then runs EXPLAIN (ANALYZE, BUFFERS) on every query the hot paths issue and prints, per query,
the plan's access path and the median execution time of 5 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.dialects import postgresql

from service.domain.events import EVENT_TRANSACTION, digest, format_time
from service.domain.features import HistoryQuery
from service.store import migrate
from service.store.engine import create_engine
from service.store.tables import events, predictions

ADMIN = os.environ.get("FRAUDLOG_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
START = datetime(2026, 1, 1, tzinfo=UTC)
CARDS = 50_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = f"fraudlog_scale_{os.getpid()}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_engine(url)
        migrate.upgrade(engine)
        load(url.replace("postgresql://", "postgresql://", 1), args.events)
        report(engine, args.events)
        engine.dispose()
    finally:
        if not args.keep:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def queries(n: int) -> dict[str, Callable[[sa.engine.Connection], Any]]:
    """The statements the hot paths issue, as the code builds them."""

    ids = [f"tx-{i:09d}" for i in range(n - 999, n + 1)]
    history = HistoryQuery(frozenset(f"card-{c}" for c in range(0, CARDS, 50)),
                           START + timedelta(seconds=(n - 1_000) * 2.5) - timedelta(days=1), n - 999)
    scored = sa.exists().where(predictions.c.transaction_id == events.c.transaction_id, predictions.c.champion)
    return {
        "append: look up 1,000 ids (idempotency)": lambda c: sa.select(events.c.transaction_id, events.c.digest,
                                                                          events.c.position).where(
            events.c.event_type == EVENT_TRANSACTION, events.c.transaction_id.in_(ids)),
        "score: read 1,000 positions": lambda c: sa.select(events).where(
            events.c.position.in_(list(range(n - 999, n + 1)))),
        "score: history of 1,000 cards (one query)": lambda c: sa.select(events.c.position, events.c.payload).where(
            events.c.event_type == EVENT_TRANSACTION, events.c.card_id.in_(sorted(history.card_ids)),
            events.c.event_time > history.since, events.c.position < history.before_position),
        "replay: read 1,000 events by range": lambda c: sa.select(events).where(
            events.c.position >= n // 2, events.c.position < n // 2 + 1_000).order_by(events.c.position),
        "sweep: unscored after a watermark": lambda c: sa.select(events.c.position).where(
            events.c.event_type == EVENT_TRANSACTION, events.c.position > n - 5_000, ~scored)
            .order_by(events.c.position).limit(100_000),
        "sweep: unscored, whole log (first sweep)": lambda c: sa.select(events.c.position).where(
            events.c.event_type == EVENT_TRANSACTION, events.c.position > 0, ~scored)
            .order_by(events.c.position).limit(100_000),
        "transaction view: by id": lambda c: sa.select(events).where(
            events.c.event_type == EVENT_TRANSACTION, events.c.transaction_id == f"tx-{n // 3:09d}"),
        "predictions of one transaction": lambda c: sa.select(predictions).where(
            predictions.c.transaction_id == f"tx-{n // 3:09d}"),
    }


def explain(conn: sa.engine.Connection, statement: Any) -> tuple[str, float]:
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql).scalar_one()[0]
    return _access_paths(plan["Plan"]), float(plan["Execution Time"])


def _access_paths(node: dict[str, Any]) -> str:
    found = []
    if "Scan" in node["Node Type"]:
        found.append(f"{node['Node Type']}" + (f" on {node['Index Name']}" if "Index Name" in node else
                                                f" on {node.get('Relation Name', '?')}"))
    for child in node.get("Plans", []):
        found.append(_access_paths(child))
    return "; ".join(f for f in found if f)


def report(engine: sa.engine.Engine, n: int) -> None:
    table = Table("query", "plan (access paths)", "median ms", title=f"Postgres, {n:,} events")
    with engine.connect() as conn:
        for name, build in queries(n).items():
            timings, plan = [], ""
            for _ in range(5):
                plan, ms = explain(conn, build(conn))
                timings.append(ms)
            table.add_row(name, re.sub(r"\s+", " ", plan), f"{statistics.median(timings):.1f}")
        size = conn.exec_driver_sql("SELECT pg_size_pretty(pg_total_relation_size('events'))").scalar_one()
    Console(width=200).print(table)
    print(f"events table with indexes: {size}")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"done in {time.monotonic() - started:.0f} s")
