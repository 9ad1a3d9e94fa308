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
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from service.domain.assignment import AssignmentTable
from service.domain.events import parse_time
from service.domain.features import HistoryQuery, TxView
from service.replay.recompute import Recomputed, role_change
from service.store.errors import StoreError, StoreUnavailable
from service.store.tables import (
    EVENT_LABEL,
    EVENT_PROMOTION,
    EVENT_RETIREMENT,
    EVENT_TRANSACTION,
    alerts,
    events,
    predictions,
)

CHUNK = 1_000
LOOKUP_CHUNK = 5_000
_json_decoder = msgspec.json.Decoder()


# A stored prediction has exactly the fields replay recomputes, so the two compare field by field.
StoredPrediction = Recomputed


@contextmanager
def driver_errors() -> Iterator[None]:
    """Map driver errors to the store's own, so callers never see psycopg or sqlite3 exceptions."""
    try:
        yield
    except OperationalError as exc:
        raise StoreUnavailable(" ".join(str(exc.orig).split())) from exc
    except DBAPIError as exc:
        raise StoreError(" ".join(str(exc.orig).split())) from exc


@contextmanager
def read_only_snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection in a read-only transaction: a consistent view, and writes refused by the database."""
    with driver_errors(), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn
            return
        _set_query_only(conn, True)
        try:
            with conn.begin():
                yield conn
        finally:
            _set_query_only(conn, False)  # the connection goes back to the pool


def json_text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    # JSON columns come back as text and are decoded with msgspec: the drivers' json.loads was the largest
    # single cost of a replay. Both parse numbers correctly rounded, so the values are the same floats.
    return sa.cast(column, sa.Text)


def decode_json(text: str) -> Any:
    return _json_decoder.decode(text)


def history(conn: Connection, query: HistoryQuery, first_target: int) -> list[TxView]:
    """The history a chunk needs (`HistoryQuery`), without the chunk's own events: `batch_features`
    counts the targets as history of later targets itself, so fetching them again would be wasted."""
    stmt = sa.select(events.c.position, json_text(events.c.payload)).where(
        events.c.event_type == EVENT_TRANSACTION,
        events.c.card_id.in_(sorted(query.card_ids)),
        events.c.event_time > query.since,
        events.c.position < min(first_target, query.before_position),
    )
    return [_history_view(position, decode_json(payload)) for position, payload in conn.execute(stmt).all()]


def _history_view(position: int, payload: dict[str, Any]) -> TxView:
    # Card features read the card, the time and the amount of a history event, never its attributes.
    return TxView(position, payload["transaction_id"], payload.get("card_id"), parse_time(payload["event_time"]),
                  float(payload["amount"]), {})


def _set_query_only(conn: Connection, on: bool) -> None:
    conn.exec_driver_sql(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
    conn.commit()  # SQLAlchemy began a transaction for the pragma; the snapshot's own begins after it


def transaction_chunks(conn: Connection, start: int, stop: int, size: int = CHUNK) -> Iterator[list[TxView]]:
    """The transaction events with start <= position <= stop, in position order, `size` at a time."""
    stmt = (sa.select(events.c.position, json_text(events.c.payload))
            .where(events.c.event_type == EVENT_TRANSACTION, events.c.position.between(start, stop))
            .order_by(events.c.position)
            .execution_options(stream_results=True, yield_per=size))
    chunk: list[TxView] = []
    for position, payload in conn.execute(stmt):
        chunk.append(TxView.from_payload(position, decode_json(payload)))
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
                     json_text(predictions.c.features)).where(predictions.c.position > after,
                                                          predictions.c.position <= through)
    if champions_only:
        stmt = stmt.where(predictions.c.champion)
    decoded: dict[str, dict[str, float]] = {}  # a champion and its challengers store the same features
    return [StoredPrediction(tx, v, p, c, s, t, decoded[f] if f in decoded else decoded.setdefault(f, decode_json(f)))
            for tx, v, p, c, s, t, f in conn.execute(stmt).all()]  # fetchall: far cheaper than row by row


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


def latest_event_time_before(conn: Connection, position: int) -> datetime | None:
    """The latest event time of the transactions before `position` (None when there are none)."""
    stmt = sa.select(sa.func.max(events.c.event_time)).where(
        events.c.event_type == EVENT_TRANSACTION, events.c.position < position)
    return None if position <= 1 else conn.execute(stmt).scalar()


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


def assignment_table(conn: Connection, stop: int) -> AssignmentTable:
    """Who scores each event up to `stop`, from the promotion and retirement events in the snapshot."""
    stmt = (sa.select(events.c.position, events.c.payload)
            .where(events.c.event_type.in_([EVENT_PROMOTION, EVENT_RETIREMENT]), events.c.position <= stop)
            .order_by(events.c.position))
    return AssignmentTable((role_change(p, payload) for p, payload in conn.execute(stmt)), known_through=stop)
