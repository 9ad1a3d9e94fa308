"""The reads of the review queue (docs/outcomes.md, "The review queue"): alerts whose transaction has no label
yet, the transaction itself, the card's recent history, and the answers an alert received.

An alert waits for review while no label of any source is known for its transaction: an outcome, a chargeback
or an imported label all end the wait, because the truth the queue asks a person for is then known.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import (
    EVENT_ALERT_OUTCOME,
    EVENT_TRANSACTION,
    AlertOutcomeRecorded,
    TransactionRecorded,
    from_row,
)
from fraudlog.domain.records import Explanation
from fraudlog.responses.statuses import ReviewOrder
from fraudlog.store.errors import driver_errors
from fraudlog.store.outbox import ALERT_VIEW_COLUMNS, EVENT_TYPE, AlertRecord
from fraudlog.store.tables import alerts, events, labels, predictions

REVIEW_ORDERS: tuple[ReviewOrder, ...] = ("newest", "score")
MAX_QUEUE = 100
MAX_HISTORY = 50


class ReviewedTransaction(NamedTuple):
    """The alert's transaction as the log holds it, and where."""

    event: TransactionRecorded
    event_time: datetime
    position: int
    recorded_at: datetime


class HistoryRow(NamedTuple):
    """One of the card's transactions: when, how much, the champion's score, its alert and its label."""

    event: TransactionRecorded
    position: int
    score: float | None
    alert_id: str | None
    is_fraud: bool | None


class OutcomeRow(NamedTuple):
    """An answer the alert received, as the log holds it."""

    position: int
    recorded_at: datetime
    event: AlertOutcomeRecorded


def awaiting_review(engine: Engine, *, order: ReviewOrder = "newest", limit: int = 20) -> list[AlertRecord]:
    """Alerts (never their updates) whose transaction has no label yet: newest first, or highest score first."""
    if order not in REVIEW_ORDERS:
        raise ValueError(f"order must be one of {', '.join(REVIEW_ORDERS)}")
    if not 1 <= limit <= MAX_QUEUE:
        raise ValueError(f"limit must be between 1 and {MAX_QUEUE}")
    labelled = sa.exists().where(labels.c.transaction_id == alerts.c.transaction_id)
    keys = ((alerts.c.created_at.desc(), alerts.c.id.desc()) if order == "newest"
            else (alerts.c.score.desc(), alerts.c.created_at.desc(), alerts.c.id.desc()))
    stmt = sa.select(*ALERT_VIEW_COLUMNS).where(alerts.c.type == EVENT_TYPE, ~labelled).order_by(*keys).limit(limit)
    with driver_errors(), engine.connect() as conn:
        return [AlertRecord(*tuple(row)) for row in conn.execute(stmt)]


def alert_by_id(conn: Connection, alert_id: str) -> AlertRecord | None:
    stmt = sa.select(*ALERT_VIEW_COLUMNS).where(alerts.c.id == alert_id, alerts.c.type == EVENT_TYPE)
    row = conn.execute(stmt).first()
    return None if row is None else AlertRecord(*tuple(row))


def reviewed_transaction(conn: Connection, transaction_id: str) -> ReviewedTransaction | None:
    stmt = (sa.select(events.c.payload, events.c.event_time, events.c.position, events.c.recorded_at)
            .where(events.c.event_type == EVENT_TRANSACTION, events.c.transaction_id == transaction_id))
    row = conn.execute(stmt).first()
    return None if row is None else ReviewedTransaction(_transaction(row[0]), *row[1:])


def card_history(conn: Connection, transaction: ReviewedTransaction, limit: int) -> list[HistoryRow]:
    """The card's last `limit` transactions up to `transaction` (itself included), newest first by event time.

    Read by the card's event-time index; a transaction without a card has only itself as history."""
    champion = predictions.alias("champion")
    stmt = (sa.select(events.c.payload, events.c.position, champion.c.score, alerts.c.id, labels.c.is_fraud)
            .outerjoin(champion, sa.and_(champion.c.transaction_id == events.c.transaction_id,
                                         champion.c.champion.is_(True)))
            .outerjoin(alerts, sa.and_(alerts.c.transaction_id == events.c.transaction_id,
                                       alerts.c.type == EVENT_TYPE))
            .outerjoin(labels, labels.c.transaction_id == events.c.transaction_id)
            .where(events.c.event_type == EVENT_TRANSACTION)
            .order_by(events.c.event_time.desc(), events.c.position.desc())
            .limit(limit))
    card_id = transaction.event.card_id
    if card_id is None:
        stmt = stmt.where(events.c.transaction_id == transaction.event.transaction_id)
    else:
        stmt = stmt.where(events.c.card_id == card_id, events.c.event_time <= transaction.event_time)
    return [HistoryRow(_transaction(payload), *rest) for payload, *rest in conn.execute(stmt)]


def outcomes_of(conn: Connection, alert: AlertRecord) -> list[OutcomeRow]:
    """The answers to `alert` in log order (an outcome names its alert in its payload)."""
    stmt = (sa.select(events.c.position, events.c.recorded_at, events.c.payload)
            .where(events.c.event_type == EVENT_ALERT_OUTCOME, events.c.transaction_id == alert.transaction_id)
            .order_by(events.c.position))
    return [OutcomeRow(position, recorded_at, cast(AlertOutcomeRecorded, from_row(EVENT_ALERT_OUTCOME, payload)))
            for position, recorded_at, payload in conn.execute(stmt)]


def effective_label(conn: Connection, transaction_id: str) -> tuple[bool, str] | None:
    """The transaction's effective label and its source, if one is known."""
    row = conn.execute(sa.select(labels.c.is_fraud, labels.c.source)
                       .where(labels.c.transaction_id == transaction_id)).first()
    return None if row is None else (bool(row[0]), str(row[1]))


def _transaction(payload: object) -> TransactionRecorded:
    return cast(TransactionRecorded, from_row(EVENT_TRANSACTION, cast(dict[str, object], payload)))


def champion_explanation(conn: Connection, transaction_id: str) -> Explanation | None:
    """The reasons stored with the champion's prediction of the transaction (an alert's always has them)."""
    stmt = sa.select(predictions.c.reasons).where(predictions.c.transaction_id == transaction_id,
                                                  predictions.c.champion.is_(True))
    stored = conn.execute(stmt).scalar()
    return None if stored is None else msgspec.convert(stored, Explanation)
