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


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """One feature's part in a score (`fraudlog.ml.explain`): signed, against the card's and the population's
    reference values, with a sentence a person reads."""

    feature: str
    value: float | str
    contribution: float  # > 0 pushed the score towards fraud; in the explanation's units
    card_reference: float | None  # this card's typical value over its 24 h history, when it has one
    population_reference: float | None  # the version's training-window baseline, when its artifact holds one
    sentence: str


class Explanation(msgspec.Struct, frozen=True, kw_only=True):
    """The top reasons of one prediction: `logreg-exact` (log-odds; reasons of every feature + base_value =
    the logit) or `replace-by-baseline` (score units; base_value is the score explained)."""

    method: str
    units: str
    base_value: float
    top_k: int
    reasons: list[Reason]


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


class Evidence(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the promotion policy saw: the transactions and frauds both versions scored, and, once a test
    could run, both ROC AUCs, DeLong's one-sided p-value and the 95% interval of their difference."""

    champion: int
    transactions: int
    frauds: int
    policy: dict[str, int | float]  # PromotionPolicy's thresholds, by name
    champion_auc: float | None = None
    challenger_auc: float | None = None
    p_value: float | None = None
    difference_interval_95: list[float] | None = None
    test: str | None = None


class Decision(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Why a version took a role: who decided (`automatic`: the promotion policy; `manual`: an operator or a
    command), what (`enter`, `promote`, `keep`, `retire`), why, and the policy's evidence when it decided."""

    kind: str
    action: str
    reason: str
    evidence: Evidence | None = None


class _TriggerKind(TypedDict):
    kind: str  # first, schedule, manual or drift


# total=False rather than NotRequired: under `from __future__ import annotations` only msgspec reads NotRequired,
# and the OpenAPI schema (Litestar) would make every key required.
class Trigger(_TriggerKind, total=False):
    """Why a version was trained (`fraudlog.lifecycle.triggers`): its `kind`, and for a drift-triggered line the
    detection and the window it trains on. A dict: lineage stores it as JSON, in this key order."""

    detection: str  # the drift detection's id (kind drift)
    window_from: int  # the first position of the window a drift-triggered line trains on
    base_window: int  # the spec's own window, which the line's window grows back to


class TrainingCode(msgspec.Struct, frozen=True, kw_only=True):
    """Which code trained a version."""

    module: str | None = None
    function: str | None = None
    package_version: str | None = None
    git_commit: str | None = None


class TrainingDataLineage(msgspec.Struct, frozen=True, kw_only=True):
    """What a version learned from: the log's positions (or a file, for versions imported before the log
    held their history), the label cut, the counts and the SHA-256 of the window, and the window's size.
    Every field may be missing from versions recorded by older releases."""

    source: str | None = None
    first_position: int | None = None
    last_position: int | None = None
    label_cut: int | None = None
    event_count: int | None = None
    label_count: int | None = None
    fraud_count: int | None = None
    sha256: str | None = None
    window: int | None = None


class Lineage(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to retrain a version and compare: the spec, the code, the data and the libraries."""

    model_spec: dict[str, Any]  # open: a spec names its own parameters (a custom spec, any)
    training_code: TrainingCode
    training_data: TrainingDataLineage
    environment: dict[str, str | None]  # library -> version, as `fraudlog.ml.environment` records them


class TrainingRange(msgspec.Struct, kw_only=True):
    """Which part of the log (or which file) a version learned from."""

    source: str | None
    first_position: int | None
    last_position: int | None


class LineageSummary(msgspec.Struct, kw_only=True):
    """Enough of a version's lineage to say what produced a score; `GET /v1/models/{v}` has the rest."""

    version: int
    parent_version: int | None
    model_spec: str | None
    training_range: TrainingRange
    artifact_sha256: str
    created_at: str


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
