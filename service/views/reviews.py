"""An alert as a person reviews it, and the queue of alerts waiting for review (docs/outcomes.md, "The review
queue"): `GET /v1/alerts/{alert_id}`, `GET /v1/reviews` and the dashboard's review panel."""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import format_time
from fraudlog.responses.reviews import AlertReview, CardHistoryEntry, EffectiveLabel, OutcomeEntry, ReviewQueue
from fraudlog.responses.transaction import TransactionRecord
from fraudlog.store.errors import driver_errors
from fraudlog.store.outbox import AlertRecord
from fraudlog.store.reviews import MAX_HISTORY as MAX_HISTORY  # re-exported: the API's bounds and order
from fraudlog.store.reviews import MAX_QUEUE as MAX_QUEUE
from fraudlog.store.reviews import (
    HistoryRow,
    OutcomeRow,
    alert_by_id,
    awaiting_review,
    card_history,
    champion_explanation,
    effective_label,
    outcomes_of,
    reviewed_transaction,
)
from fraudlog.store.reviews import ReviewOrder as ReviewOrder
from fraudlog.views.alerts import alert_item

DEFAULT_HISTORY = 10


def alert_review(engine: Engine, alert_id: str, history: int = DEFAULT_HISTORY) -> AlertReview | None:
    """The review of alert `alert_id` (None: no such alert; an update is not an alert of its own)."""
    with driver_errors(), engine.connect() as conn:
        alert = alert_by_id(conn, alert_id)
        return None if alert is None else _review(conn, alert, history)


def review_queue(engine: Engine, *, order: ReviewOrder = "newest", limit: int = 20,
                 history: int = DEFAULT_HISTORY) -> ReviewQueue:
    waiting = awaiting_review(engine, order=order, limit=limit)
    with driver_errors(), engine.connect() as conn:
        return ReviewQueue(order=order, items=[_review(conn, alert, history) for alert in waiting])


def _review(conn: Connection, alert: AlertRecord, history: int) -> AlertReview:
    transaction = reviewed_transaction(conn, alert.transaction_id)
    if transaction is None:  # the scorer writes an alert only for a transaction of the log
        raise LookupError(f"alert {alert.alert_id} names transaction {alert.transaction_id}, not in the log")
    event = transaction.event
    label = effective_label(conn, alert.transaction_id)
    return AlertReview(
        alert=alert_item(alert),
        transaction=TransactionRecord(transaction_id=event.transaction_id, card_id=event.card_id,
                                      event_time=event.event_time, amount=event.amount, attributes=event.attributes,
                                      position=transaction.position, recorded_at=format_time(transaction.recorded_at)),
        explanation=champion_explanation(conn, alert.transaction_id),
        history=[_history_entry(row) for row in card_history(conn, transaction, min(history, MAX_HISTORY))],
        outcomes=[_outcome(row) for row in outcomes_of(conn, alert)],
        label=None if label is None else EffectiveLabel(is_fraud=label[0], source=label[1]))


def _history_entry(row: HistoryRow) -> CardHistoryEntry:
    return CardHistoryEntry(transaction_id=row.event.transaction_id, event_time=row.event.event_time,
                            amount=row.event.amount, score=row.score, alerted=row.alert_id is not None,
                            is_fraud=row.is_fraud)


def _outcome(row: OutcomeRow) -> OutcomeEntry:
    event = row.event
    return OutcomeEntry(outcome=event.outcome, source=event.source, actor=event.actor, answered_at=event.labeled_at,
                        note=event.note, position=row.position)
