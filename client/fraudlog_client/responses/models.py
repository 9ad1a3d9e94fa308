"""`GET /v1/models` and `GET /v1/models/{version}`: versions, their live figures and their lineage."""

from __future__ import annotations

from typing import Any

import msgspec

from fraudlog_client.records import Evidence, TrainingCode, TrainingDataLineage, Trigger
from fraudlog_client.responses.statuses import ModelStatus


class LiveMetrics(msgspec.Struct, kw_only=True):
    """How a version does on live traffic: its predictions, the share at or above its threshold, and ROC
    AUC on the labels that have arrived (None until both classes have)."""

    predictions: int
    alert_rate: float | None
    labels: int
    frauds: int
    roc_auc: float | None


class DecisionView(msgspec.Struct, kw_only=True):
    """A role event of the version and the decision behind it: who decided (`automatic` by the promotion
    policy, `manual` by an operator), what (`enter`, `promote`, `keep`, `retire`), why, and the evidence
    (transactions and frauds both versions scored, both ROC AUCs, DeLong's p-value and interval)."""

    position: int
    role: str
    kind: str | None
    action: str | None
    reason: str | None
    evidence: Evidence | None


class ModelSummary(msgspec.Struct, kw_only=True):
    """One item of `GET /v1/models`: `live_metrics.alert_rate` is the observed rate, beside the target the
    threshold was calibrated for (`target_alert_rate`)."""

    version: int
    status: ModelStatus
    parent_version: int | None
    created_at: str
    model_spec: dict[str, Any]
    threshold: float
    metrics: dict[str, Any]
    live_metrics: LiveMetrics
    target_alert_rate: float | None = None
    last_decision: DecisionView | None = None
    trigger: Trigger | None = None  # why it was trained (fraudlog.lifecycle.triggers)
    traits: str = ""  # what tells it from the other versions: family, features, categories, trigger


class Artifact(msgspec.Struct, kw_only=True):
    """The stored model artifact; `hmac_verified` is checked when the view is built."""

    size: int
    sha256: str
    hmac_verified: bool


class ModelDetail(msgspec.Struct, kw_only=True):
    """`GET /v1/models/{version}`: the version's full lineage, exactly as the contract lists it."""

    version: int
    parent_version: int | None
    created_at: str
    status: ModelStatus
    model_spec: dict[str, Any]
    training_code: TrainingCode
    training_data: TrainingDataLineage
    environment: dict[str, str | None]
    artifact: Artifact
    threshold: float
    metrics: dict[str, Any]
    watermark: int
    decisions: list[DecisionView] = msgspec.field(default_factory=list)
    trigger: Trigger | None = None  # why it was trained (fraudlog.lifecycle.triggers)
    explanation: ExplanationView | None = None  # null: the artifact is refused, nothing it scores is explained


class ExplanationView(msgspec.Struct, kw_only=True):
    """How the version's reasons are computed (docs/explanations.md): a function of its frozen artifact and of
    the code `training_code` names, so as fixed as the version."""

    method: str  # logreg-exact | replace-by-baseline
    units: str  # log-odds | score
    top_k: int
    baseline: str  # where the population reference values come from
    features_with_baseline: int
    cost: str
