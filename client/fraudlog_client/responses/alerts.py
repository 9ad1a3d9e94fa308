"""`GET /v1/alerts`: the alerts outbox, a page at a time."""

from __future__ import annotations

from typing import Literal

import msgspec

from fraudlog_client.records import Reason
from fraudlog_client.responses.statuses import AlertStatus


class AlertItem(msgspec.Struct, kw_only=True):
    """One delivery of the outbox and its state: an alert, or an update of one (`type`; the update's
    `alert_id` is its own id, which is its webhook-id, and `update_of` the alert's). `sent_at` and `last_error`
    are null until known; `transactions` counts those the message covers, null until a relay first takes it."""

    alert_id: str
    transaction_id: str
    card_id: str | None
    score: float
    threshold: float
    model_version: int
    created_at: str
    status: AlertStatus
    attempts: int
    sent_at: str | None
    last_error: str | None
    reasons: list[Reason] | None = None  # the top reasons of its score (null: raised before reasons existed)
    type: Literal["fraud_alert", "fraud_alert.updated"] = "fraud_alert"
    update_of: str | None = None
    transactions: int | None = None


class AlertsPage(msgspec.Struct, kw_only=True):
    """A page of alerts; pass `next_cursor` back as `cursor` for the next one (null: no more)."""

    items: list[AlertItem]
    next_cursor: str | None
