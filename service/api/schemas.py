"""Response bodies that belong to the API alone (the read models live in `fraudlog.views`).

Declared as handler return types, so `/schema/openapi.json` documents each one; the JSON they encode to is
the contract's, byte for byte in meaning.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from fraudlog.domain.records import Reason
from fraudlog.responses.statuses import RoleChange
from fraudlog_client.schemas import (  # the API's bodies a client decodes: defined once, in the client distribution
    IngestReceipt as IngestReceipt,
)
from fraudlog_client.schemas import (
    OnDemandPrediction as OnDemandPrediction,
)
from fraudlog_client.schemas import (
    VersionComparison as VersionComparison,
)
from fraudlog_client.schemas import (
    VersionPrediction as VersionPrediction,
)


class RoleChanged(msgspec.Struct, kw_only=True):
    """A promotion or retirement, appended to the log at `position`."""

    version: int
    status: RoleChange
    position: int


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
