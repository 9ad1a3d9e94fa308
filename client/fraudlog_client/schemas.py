"""The API's own answers that a client decodes (the read models' bodies are in `fraudlog_client.responses`):
ingest receipts and on-demand predictions. `fraudlog.api.schemas` re-exports them beside the bodies only the
server writes."""

from __future__ import annotations

import msgspec

from fraudlog_client.records import Explanation
from fraudlog_client.responses.statuses import IngestStatus, ModelStatus


class IngestReceipt(msgspec.Struct, kw_only=True):
    """The answer to one appended transaction or label: where it is in the log, and whether it was new."""

    transaction_id: str
    position: int
    status: IngestStatus


class OnDemandPrediction(msgspec.Struct, kw_only=True):
    """`POST /v1/predict`: the score a version gives the transaction now; nothing is stored."""

    score: float
    is_alert: bool
    threshold: float
    model_version: int
    features: dict[str, float | str]
    reasons: Explanation  # the top reasons of the score (docs/explanations.md)


class VersionPrediction(msgspec.Struct, kw_only=True):
    """One version's score of the compared transaction, its threshold, decision and role now."""

    model_version: int
    status: ModelStatus
    score: float
    threshold: float
    is_alert: bool
    reasons: Explanation


class VersionComparison(msgspec.Struct, kw_only=True):
    """`POST /v1/predict` with `model_versions`: the same features scored by each version, in the order
    asked (`"live"`: the champion first); nothing is stored."""

    features: dict[str, float | str]
    predictions: list[VersionPrediction]
