"""`GET /v1/transactions/{transaction_id}`: a transaction and what was derived from it."""

from __future__ import annotations

import msgspec

from fraudlog_client.records import Explanation, LineageSummary
from fraudlog_client.responses.statuses import AlertStatus


class TransactionRecord(msgspec.Struct, kw_only=True):
    """The transaction as posted (in its canonical, stored form) and where and when the log recorded it."""

    transaction_id: str
    card_id: str | None
    event_time: str
    amount: float
    attributes: dict[str, float | str]
    position: int
    recorded_at: str


class PredictionView(msgspec.Struct, kw_only=True):
    """One stored prediction. The audit fields are present only when the view was built with a registry
    (the API always passes one): which lineage produced the score, and whether replay reproduces it now."""

    model_version: int
    champion: bool
    score: float
    threshold: float
    features: dict[str, float | str]
    scored_at: str
    # Its top reasons: stored with an alert, else computed on demand from the stored features (with a registry).
    reasons: Explanation | msgspec.UnsetType = msgspec.UNSET
    # The suppression that held back the alert this prediction would have raised (absent: none did).
    suppressed_by: str | msgspec.UnsetType = msgspec.UNSET
    lineage: LineageSummary | msgspec.UnsetType | None = msgspec.UNSET
    reproduced: bool | msgspec.UnsetType = msgspec.UNSET
    replay_differences: list[str] | msgspec.UnsetType = msgspec.UNSET


class LabelView(msgspec.Struct, kw_only=True):
    """The effective verdict on the transaction (docs/outcomes.md: the highest-ranked source, then the latest),
    its `source`; `corrections` counts the verdicts that changed it."""

    is_fraud: bool
    labeled_at: str
    position: int
    corrections: int
    source: str = "api"


class TransactionAlert(msgspec.Struct, kw_only=True):
    """The alert raised for the transaction and the state of its delivery."""

    alert_id: str
    status: AlertStatus
    score: float
    threshold: float
    model_version: int
    created_at: str
    attempts: int
    sent_at: str | None
    last_error: str | None


class ScoringFailureView(msgspec.Struct, kw_only=True):
    """A model version that could not score the transaction (its score raised on every attempt); `fraudlog
    rescore` scores it again once the model is fixed."""

    model_version: int
    champion: bool
    error: str
    attempts: int
    failed_at: str


class TransactionView(msgspec.Struct, kw_only=True):
    """The body of `GET /v1/transactions/{transaction_id}`."""

    transaction: TransactionRecord
    predictions: list[PredictionView]
    label: LabelView | None
    alert: TransactionAlert | None
    scoring_failures: list[ScoringFailureView] = msgspec.field(default_factory=list)
