"""`GET /v1/predictions` and its stream: stored predictions in log order."""

from __future__ import annotations

import msgspec

from fraudlog_client.records import Reason


class PredictionItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One stored prediction; `cursor` is where a consumer that has it resumes (the SSE event's `id`)."""

    cursor: str
    position: int
    transaction_id: str
    model_version: int
    champion: bool
    score: float
    threshold: float
    is_alert: bool
    event_time: str
    recorded_at: str
    scored_at: str
    features: dict[str, float | str] | None = None
    # With `?explain=true`: an alert's stored reasons, null for a prediction that did not alert (its reasons are
    # computed on demand by GET /v1/transactions/{id} and `fraudlog explain`).
    reasons: list[Reason] | msgspec.UnsetType | None = msgspec.UNSET


class PredictionsPage(msgspec.Struct, kw_only=True):
    """Predictions in log order; pass `next_cursor` back as `after` for the next page (never null: the feed
    grows; a page shorter than `limit` means the consumer is up to date with what is final)."""

    items: list[PredictionItem]
    next_cursor: str
