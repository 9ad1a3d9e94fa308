"""Response bodies that belong to the API alone (the read models live in `fraudlog.views`).

Declared as handler return types, so `/schema/openapi.json` documents each one; the JSON they encode to is
the contract's, byte for byte in meaning.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from fraudlog.domain.records import Explanation, Reason
from fraudlog.responses.statuses import IngestStatus, ModelStatus, RoleChange


class IngestReceipt(msgspec.Struct, kw_only=True):
    """The answer to one appended transaction or label: where it is in the log, and whether it was new."""

    transaction_id: str
    position: int
    status: IngestStatus


class RoleChanged(msgspec.Struct, kw_only=True):
    """A promotion or retirement, appended to the log at `position`."""

    version: int
    status: RoleChange
    position: int


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


class Health(msgspec.Struct, kw_only=True):
    """The process is up, and which fraudlog release it runs."""

    status: Literal["ok"]
    version: str


class Readiness(msgspec.Struct, kw_only=True):
    """Each dependency's check (`ok`, or why not); `status` is `ok` only when every check is."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class ExplanationSummary(msgspec.Struct, kw_only=True):
    """How an alert's reasons were computed (docs/explanations.md)."""

    method: str  # "logreg-exact" or "replace-by-baseline"
    units: str  # "log-odds" or "score"
    base_value: float
    top_k: int


class AlertPayload(msgspec.Struct, kw_only=True):
    """What the webhook receives for one alert (`fraudlog.store.outbox.alert_payload`), signed as Standard
    Webhooks sign it (docs/alerts.md). `reasons` and `explanation` are absent from alerts raised before
    reasons were stored."""

    alert_id: str
    transaction_id: str
    card_id: str | None
    score: float
    threshold: float
    model_version: int
    created_at: str
    reasons: list[Reason] | msgspec.UnsetType = msgspec.UNSET
    explanation: ExplanationSummary | msgspec.UnsetType = msgspec.UNSET
