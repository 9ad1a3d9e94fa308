"""The database's own insert rate, without HTTP: what the ingest API is compared against.

Three ways to put the same events into the log, `batch_size` rows per durable commit:

  bare     the driver's executemany (psycopg 3 / sqlite3) on a connection of the service's engine;
  bare_sa  SQLAlchemy Core's executemany of `insert(events)`;
  store    the store itself: `EventLog.append_transactions` of one unit (lock, duplicate lookup, insert).

The first two bypass the store on purpose (that is what a baseline is), but they copy none of its code:
the column list is the event's own fields plus `recorded_at`, the values are bound by the table's column
types (SQLAlchemy's bind processors, the same the service's engine uses), and after every run
`check_rows_read_back` asks the store whether what was written is what it would have written: the store's
reader must return each event's fields unchanged, and the store's duplicate check (digest comparison)
must call a re-append of the same events a duplicate at the same position.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bench.load.corpus import Corpus
from bench.load.cpu import CpuSnapshot
from fraudlog.domain.events import NewEvent
from fraudlog.store.event_log import EventLog
from fraudlog.store.recorders import EVENT_COLUMNS
from fraudlog.store.tables import events

BASELINES = ("bare", "bare_sa", "store")


@dataclass
class BaselineRun:
    scenario: str
    rows: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    read_back: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def event_columns() -> list[str]:
    """The log's columns an appended event fills: the event's fields, and the time it was recorded."""
    return list(EVENT_COLUMNS)


def _event_values(event: NewEvent, recorded_at: datetime) -> dict[str, Any]:
    return {**{name: getattr(event, name) for name in EVENT_COLUMNS if name != "recorded_at"},
            "recorded_at": recorded_at}


class DriverInsert:
    """An executemany straight on the DBAPI connection, values bound by the table's column types."""

    def __init__(self, engine: sa.Engine) -> None:
        dialect = engine.dialect
        self.columns = event_columns()
        placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sql = (f"INSERT INTO {events.name} ({', '.join(self.columns)}) "
                    f"VALUES ({', '.join([placeholder] * len(self.columns))})")
        self.processors = [events.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.columns]
        self.sqlite = dialect.name == "sqlite"

    def rows(self, batch: Sequence[NewEvent], recorded_at: datetime) -> list[tuple[Any, ...]]:
        out = []
        for event in batch:
            values = _event_values(event, recorded_at)
            out.append(tuple(value if process is None else process(value)
                             for process, value in zip(self.processors, (values[c] for c in self.columns),
                                                       strict=True)))
        return out

    def execute(self, driver_connection: Any, rows: list[tuple[Any, ...]]) -> None:
        """One durable commit (WAL + synchronous=FULL / fsync on) of `rows`."""
        if self.sqlite:
            cursor = driver_connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(self.sql, rows)
            cursor.execute("COMMIT")
            cursor.close()
            return
        with driver_connection.cursor() as cursor:
            cursor.executemany(self.sql, rows)
        driver_connection.commit()


def run_baseline(engine: sa.Engine, corpus: Corpus, scenario: str, prefix: str, rows: int, batch_size: int,
                 on_batch: Callable[[int], None], postgres_database: str | None = None) -> BaselineRun:
    """Insert `rows` events, `batch_size` per durable commit, without HTTP. Only the database work is timed."""
    run = BaselineRun(scenario)
    log = EventLog(engine)
    driver = DriverInsert(engine) if scenario == "bare" else None
    insert = sa.insert(events)
    client_cpu = 0.0
    before = CpuSnapshot.take(None, postgres_database)
    raw = engine.raw_connection() if driver is not None else None
    first_batch: list[NewEvent] = []
    try:
        for number in range(rows // batch_size):
            batch = [corpus.new_event(f"{prefix}{number:06d}-{i:05d}", number * batch_size + i)
                     for i in range(batch_size)]
            first_batch = first_batch or batch
            recorded_at = datetime.now(UTC)
            params: Any = (driver.rows(batch, recorded_at) if driver is not None
                           else [_event_values(e, recorded_at) for e in batch] if scenario == "bare_sa" else None)
            began, cpu_began = time.perf_counter(), time.process_time()
            if driver is not None:
                driver.execute(raw.driver_connection, params)  # type: ignore[union-attr]
            elif scenario == "bare_sa":
                with engine.begin() as conn:
                    conn.execute(insert, params)
            else:
                log.append_transactions([batch], recorded_at)
            run.seconds += time.perf_counter() - began
            client_cpu += time.process_time() - cpu_began
            run.rows += batch_size
            on_batch(batch_size)
    finally:
        if raw is not None:
            raw.close()
    # The Python side (driver, SQLAlchemy) while timed, and Postgres over the whole run (idle while we
    # prepare the next batch), both per second of timed work; `other` is the rest of the machine over the
    # whole run, preparation included.
    usage = CpuSnapshot.take(None, postgres_database).usage_since(before)
    run.cpu = {"client_cores": round(client_cpu / run.seconds, 3),
               "postgres_cores": round(usage["postgres_cores"] * (time.perf_counter() - before.wall) / run.seconds, 3),
               "other_cores": usage["other_cores"], "other_top": usage["other_top"]}
    run.read_back = check_rows_read_back(engine, first_batch[:100])
    return run


def check_rows_read_back(engine: sa.Engine, written: Sequence[NewEvent]) -> dict[str, Any]:
    """Whether the store reads `written` back unchanged and calls a re-append of them a duplicate.

    A baseline that stored a time, a payload or a digest differently from the store would be measuring
    other work than the store does; this catches it. The re-append writes nothing (every event is a
    duplicate), so the log's counts are unchanged.
    """
    log = EventLog(engine)
    differing = []
    positions = {}
    for event in written:
        record = log.get_transaction(event.transaction_id or "")
        if record is None or (record.event_type, record.transaction_id, record.card_id, record.event_time,
                              record.payload) != (event.event_type, event.transaction_id, event.card_id,
                                                  event.event_time, event.payload):
            differing.append(event.transaction_id)
        elif record is not None:
            positions[event.transaction_id] = record.position
    [outcome] = log.append_transactions([list(written)]) if written else [None]
    not_duplicates = [] if outcome is None else [
        r.transaction_id for r in outcome.receipts
        if r.status != "duplicate" or positions.get(r.transaction_id, r.position) != r.position]
    if outcome is not None and outcome.conflicts:
        not_duplicates += outcome.conflicts
    return {"checked": len(written), "fields_differ": differing[:5], "digest_or_position_differ": not_duplicates[:5],
            "ok": not differing and not not_duplicates}
