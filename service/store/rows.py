"""The rows scoring inserts besides its predictions (`fraudlog.domain.records.NewPrediction`): outbox rows, their
payloads and alert members.

TypedDicts, not Structs: the backends bind them as they are, batch after batch, and an outbox row's `payload` is
the JSON the customer receives, stored in a JSON column and sent by the sinks without a conversion. Key order is
the order they were always built in, so the stored JSON does not change.
"""

from __future__ import annotations

from datetime import datetime
from typing import NotRequired, TypedDict

from fraudlog.domain.records import AlertRow, StoredReason


class ExplanationSummaryJSON(TypedDict):
    """How an alert's reasons were computed: its opening prediction's explanation without the reasons."""

    method: str
    units: str
    base_value: float
    top_k: int


class CoveredTransaction(TypedDict):
    """One transaction an alert message covers, as its payload lists it under `transactions`."""

    transaction_id: str
    score: float
    threshold: float
    model_version: int
    event_time: str | None
    reasons: NotRequired[list[StoredReason]]


class AlertPayloadJSON(TypedDict):
    """The JSON a sink receives for one alert message (`fraudlog.api.schemas.AlertPayload` documents it)."""

    type: str
    alert_id: str
    transaction_id: str
    card_id: str | None
    score: float
    threshold: float
    model_version: int
    created_at: str
    reasons: NotRequired[list[StoredReason]]
    explanation: NotRequired[ExplanationSummaryJSON]
    update_id: NotRequired[str]  # an update of the alert (`outbox.UPDATE_TYPE`)
    transactions: NotRequired[list[CoveredTransaction]]  # added when a relay first takes the message


class OutboxRow(AlertRow):
    """A row of the `alerts` outbox table (`outbox.alert_row`): the alert that opened it, and its delivery."""

    id: str
    aggregatetype: str
    aggregateid: str
    type: str
    payload: AlertPayloadJSON
    status: str
    attempts: int
    available_at: datetime
    sent_at: datetime | None
    last_error: str | None


class MemberRow(AlertRow):
    """A row of `alert_members`: one alerting transaction and the alert it joined (`outbox.member_row`)."""

    alert_id: str
    event_time: datetime | None
    message_id: str | None

