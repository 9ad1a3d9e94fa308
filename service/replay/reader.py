"""What replay reads, on one read-only connection that sees one consistent snapshot of the database.

Replay must never write (DESIGN invariant 6: a replay never alerts) and must compare predictions with the
log as it stood at one instant, even while workers keep appending and scoring. So every query of a run goes
through one connection held in a read-only transaction: REPEATABLE READ READ ONLY on Postgres, a deferred
read transaction under `PRAGMA query_only` on SQLite (WAL gives it a snapshot). Both refuse a write at the
database, not only by convention. The log is streamed with a server-side cursor on that same connection, so
memory stays flat whatever the log's length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from service.domain.features import TxView
from service.store.errors import StoreError, StoreUnavailable
from service.store.tables import EVENT_LABEL, EVENT_TRANSACTION, alerts, events, predictions

CHUNK = 1_000
LOOKUP_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class LoggedTransaction:
    """A transaction event: what features are computed from, and when the log recorded it."""

    view: TxView
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class StoredPrediction:
    transaction_id: str
    model_version: int
    position: int
    champion: bool
    score: float
    threshold: float
    features: dict[str, float]


@contextmanager
def read_only_snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection in a read-only transaction: a consistent view, and writes refused by the database."""
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
                with conn.begin():
                    yield conn
                return
            conn.exec_driver_sql("PRAGMA query_only = ON")
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.exec_driver_sql("PRAGMA query_only = OFF")  # the connection goes back to the pool
    except OperationalError as exc:
        raise StoreUnavailable(" ".join(str(exc.orig).split())) from exc
    except DBAPIError as exc:
        raise StoreError(" ".join(str(exc.orig).split())) from exc


def transaction_chunks(conn: Connection, start: int, stop: int, size: int = CHUNK) -> Iterator[list[LoggedTransaction]]:
    """The transaction events with start <= position <= stop, in position order, `size` at a time."""
    stmt = (sa.select(events.c.position, events.c.payload, events.c.recorded_at)
            .where(events.c.event_type == EVENT_TRANSACTION, events.c.position.between(start, stop))
            .order_by(events.c.position)
            .execution_options(stream_results=True, yield_per=size))
    chunk: list[LoggedTransaction] = []
    for position, payload, recorded_at in conn.execute(stmt):
        chunk.append(LoggedTransaction(TxView.from_payload(position, payload), recorded_at))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def stored_predictions(conn: Connection, after: int, through: int, *, champions_only: bool = False,
                       ) -> list[StoredPrediction]:
    """Every stored prediction of an event at a position in (after, through]."""
    stmt = sa.select(predictions.c.transaction_id, predictions.c.model_version, predictions.c.position,
                     predictions.c.champion, predictions.c.score, predictions.c.threshold,
                     predictions.c.features).where(predictions.c.position > after, predictions.c.position <= through)
    if champions_only:
        stmt = stmt.where(predictions.c.champion)
    return [StoredPrediction(tx, int(v), int(p), bool(c), float(s), float(t), f)
            for tx, v, p, c, s, t, f in conn.execute(stmt)]


def latest_labels(conn: Connection, transaction_ids: Sequence[str]) -> dict[str, bool]:
    """The latest verdict among the label events of these transactions (any position: labels come late)."""
    found: dict[str, bool] = {}
    ids = sorted(set(transaction_ids))
    for begin in range(0, len(ids), LOOKUP_CHUNK):
        stmt = (sa.select(events.c.transaction_id, events.c.payload)
                .where(events.c.event_type == EVENT_LABEL, events.c.transaction_id.in_(ids[begin:begin + LOOKUP_CHUNK]))
                .order_by(events.c.position))
        found.update({tx: bool(payload["is_fraud"]) for tx, payload in conn.execute(stmt)})
    return found


def last_position(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0))).scalar_one())


def count_events(conn: Connection, start: int, stop: int) -> dict[str, int]:
    """Events in [start, stop] by type."""
    stmt = (sa.select(events.c.event_type, sa.func.count())
            .where(events.c.position.between(start, stop)).group_by(events.c.event_type))
    return {str(kind): int(n) for kind, n in conn.execute(stmt)}


def alerts_by_version(conn: Connection, start: int, stop: int) -> dict[int, int]:
    """The alerts the outbox holds for events in [start, stop], per model version."""
    stmt = (sa.select(alerts.c.model_version, sa.func.count())
            .where(alerts.c.position.between(start, stop)).group_by(alerts.c.model_version))
    return {int(v): int(n) for v, n in conn.execute(stmt)}
