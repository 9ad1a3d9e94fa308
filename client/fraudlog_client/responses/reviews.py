"""`GET /v1/reviews` and `GET /v1/alerts/{alert_id}`: alerts as a reviewer sees them."""

from __future__ import annotations

import msgspec

from fraudlog_client.records import Explanation
from fraudlog_client.responses.alerts import AlertItem
from fraudlog_client.responses.statuses import ReviewOrder
from fraudlog_client.responses.transaction import TransactionRecord


class CardHistoryEntry(msgspec.Struct, kw_only=True):
    """One of the card's recent transactions: the champion's score (null: not scored yet), whether it raised
    an alert, and its effective label (null: no truth known yet)."""

    transaction_id: str
    event_time: str
    amount: float
    score: float | None
    alerted: bool
    is_fraud: bool | None


class OutcomeEntry(msgspec.Struct, kw_only=True):
    """An answer the alert received (every one is kept; the label rule decides which counts)."""

    outcome: str
    source: str
    actor: str
    answered_at: str
    note: str | None
    position: int


class EffectiveLabel(msgspec.Struct, kw_only=True):
    is_fraud: bool
    source: str


class AlertReview(msgspec.Struct, kw_only=True):
    """Everything a reviewer needs to answer an alert: the alert, its transaction, the champion's reasons (null
    only for an alert raised before reasons existed), the card's recent history (newest first, the alert's
    transaction included), the answers so far and the effective label (null: the alert still waits)."""

    alert: AlertItem
    transaction: TransactionRecord
    explanation: Explanation | None
    history: list[CardHistoryEntry]
    outcomes: list[OutcomeEntry]
    label: EffectiveLabel | None


class ReviewQueue(msgspec.Struct, kw_only=True):
    """The alerts waiting for an outcome, in the order asked for."""

    order: ReviewOrder
    items: list[AlertReview]
