"""The shapes of the records fraudlog keeps besides its events: decisions, lineage, model versions.

Pure data (msgspec Structs), shared by every layer: the log's role events carry a `Decision`; the registry
stores a `NewVersion` and reads back a `VersionRecord`; the API answers with them and the Python client
decodes into them, so the three never disagree on a field.

Field order is the order the stored JSON has always had (SQLite keeps a JSON column's text as written), and
optional parts of a record are omitted when absent, as the dictionaries they replace omitted them, so the
stored bytes do not change. `dict[str, Any]` remains only where the data is open by nature: a spec's
parameters and a version's metrics, which each model family names for itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict

import msgspec

from fraudlog_client.records import (  # the records a client reads too: defined once, there
    Decision as Decision,
)
from fraudlog_client.records import (
    Evidence as Evidence,
)
from fraudlog_client.records import (
    Explanation as Explanation,
)
from fraudlog_client.records import (
    Lineage as Lineage,
)
from fraudlog_client.records import (
    LineageSummary as LineageSummary,
)
from fraudlog_client.records import (
    Reason as Reason,
)
from fraudlog_client.records import (
    TrainingCode as TrainingCode,
)
from fraudlog_client.records import (
    TrainingDataLineage as TrainingDataLineage,
)
from fraudlog_client.records import (
    TrainingRange as TrainingRange,
)
from fraudlog_client.records import (
    Trigger as Trigger,
)


class StoredReason(TypedDict):
    """A `Reason` as JSON: in a prediction's `reasons` column and an alert's payload, in this key order."""

    feature: str
    value: float | str
    contribution: float
    card_reference: float | None
    population_reference: float | None
    sentence: str


class StoredExplanation(TypedDict):
    """An `Explanation` as a prediction's `reasons` column stores it (a dict: written on the scoring path)."""

    method: str
    units: str
    base_value: float
    top_k: int
    reasons: list[StoredReason]


class NewPrediction(TypedDict):
    """A `PredictionRow` as scoring writes it: the `predictions` columns, a dict the insert binds as it is."""

    transaction_id: str
    model_version: int
    position: int
    champion: bool
    score: float
    threshold: float
    features: dict[str, float | str]
    event_time: datetime
    recorded_at: datetime
    scored_at: datetime
    environment_drift: NotRequired[dict[str, dict[str, str | None]] | None]
    reasons: StoredExplanation | None
    suppressed_by: str | None


class AlertRow(TypedDict):
    """An alert as the champion's scoring raises it: the transaction, its card, the score above the
    threshold, and the version and moment that raised it."""

    transaction_id: str
    card_id: str | None
    score: float
    threshold: float
    model_version: int
    position: int
    created_at: datetime


class RaisedAlert(AlertRow):
    """An `AlertRow` with its prediction's stored reasons, as scoring raises it before the outbox groups it."""

    reasons: NotRequired[StoredExplanation | None]


class PredictionRow(msgspec.Struct, frozen=True, kw_only=True):
    """A stored prediction: what one model version said of one transaction, when, on which features, and
    the library drift an operator allowed it to score under (None: none)."""

    transaction_id: str
    model_version: int
    position: int
    champion: bool
    score: float
    threshold: float
    features: dict[str, float | str]  # the version's own features, by name
    event_time: datetime
    recorded_at: datetime
    scored_at: datetime
    environment_drift: dict[str, dict[str, str | None]] | None = None
    reasons: Explanation | None = None  # stored for an alert; None for every other prediction
    suppressed_by: str | None = None  # the suppression that held back the alert it would have raised


class LabelRow(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction's effective label as the log's label events project it (the precedence rule of
    `fraudlog.domain.label_sources`), its source, and how many changes of verdict it went through."""

    transaction_id: str
    is_fraud: bool
    labeled_at: datetime
    position: int
    corrections: int
    source: str = "api"


class NewVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A trained version, ready to register: what `train_version` returns and the version store takes."""

    parent_version: int | None
    lineage: Lineage
    artifact: bytes
    artifact_sha256: str
    artifact_hmac: str
    threshold: float
    metrics: dict[str, Any]  # open: each model family reports its own
    watermark: int
    trigger: Trigger | None = None  # why it was trained


class VersionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A registered version as stored, without its artifact's bytes (their size instead)."""

    version: int
    parent_version: int | None
    created_at: datetime
    model_spec: dict[str, Any]  # open: a spec names its own parameters
    training_code: TrainingCode
    training_data: TrainingDataLineage
    environment: dict[str, str | None]
    artifact_sha256: str
    artifact_hmac: str
    artifact_size: int
    threshold: float
    metrics: dict[str, Any]  # open: each model family reports its own
    watermark: int
    trigger: Trigger | None = None  # why it was trained; None before migration 0006

    @property
    def lineage(self) -> Lineage:
        return Lineage(model_spec=self.model_spec, training_code=self.training_code,
                       training_data=self.training_data, environment=self.environment)
