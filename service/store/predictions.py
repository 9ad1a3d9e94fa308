"""Predictions: one immutable row per (transaction, model version), and the queries scoring needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from service.domain.features import HistoryQuery, TxView
from service.store.bulk import insert_predictions_ignoring_existing
from service.store.tables import EVENT_TRANSACTION, events, predictions


def fetch_history(conn: Connection, query: HistoryQuery) -> list[TxView]:
    """The history a batch of targets needs, in one query (not one per event).

    Card features read only a history event's card, time and amount, so only those are fetched: decoding
    whole payloads (dozens of attributes each) was the largest cost of scoring a batch.
    """
    stmt = sa.select(events.c.position, events.c.transaction_id, events.c.card_id, events.c.event_time,
                     events.c.payload["amount"].as_float()).where(
        events.c.event_type == EVENT_TRANSACTION,
        events.c.card_id.in_(sorted(query.card_ids)),
        events.c.event_time > query.since,
        events.c.position < query.before_position,
    )
    return [TxView(position, tx, card, moment, amount, {}) for position, tx, card, moment, amount in conn.execute(stmt)]


def insert_predictions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert, ignoring rows that exist: a redelivered batch writes nothing new (DESIGN invariant 5)."""
    if rows:
        insert_predictions_ignoring_existing(conn, rows)


def existing_predictions(conn: Connection, transaction_ids: Sequence[str]) -> set[tuple[str, int]]:
    if not transaction_ids:
        return set()
    stmt = sa.select(predictions.c.transaction_id, predictions.c.model_version).where(
        predictions.c.transaction_id.in_(list(transaction_ids)))
    return {(tx, int(version)) for tx, version in conn.execute(stmt)}


def unscored_positions(engine: Engine, *, after: int, first_scorable: int, recorded_before: datetime,
                       limit: int) -> list[int]:
    """Transaction events with no champion prediction yet, recorded before a grace cutoff.

    Events before the first champion promotion have no champion by definition and are never unscored.
    """
    scored = sa.exists().where(predictions.c.transaction_id == events.c.transaction_id, predictions.c.champion)
    stmt = (sa.select(events.c.position)
            .where(events.c.event_type == EVENT_TRANSACTION,
                   events.c.position > max(after, first_scorable - 1),
                   events.c.recorded_at < recorded_before,
                   ~scored)
            .order_by(events.c.position).limit(limit))
    with engine.connect() as conn:
        return [int(p) for p in conn.execute(stmt).scalars()]


def last_position_recorded_before(engine: Engine, cutoff: datetime, *, after: int) -> int | None:
    """The highest position above `after` recorded before `cutoff`: how far a sweep's scan reached.

    Appends are serialised and stamp recorded_at under the lock, so recorded_at grows with position and
    everything up to this position was old enough to be swept.
    """
    stmt = sa.select(sa.func.max(events.c.position)).where(events.c.position > after,
                                                           events.c.recorded_at < cutoff)
    with engine.connect() as conn:
        value = conn.execute(stmt).scalar()
    return None if value is None else int(value)


def predictions_for(engine: Engine, transaction_id: str) -> list[dict[str, Any]]:
    stmt = sa.select(predictions).where(predictions.c.transaction_id == transaction_id).order_by(
        predictions.c.model_version)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]
