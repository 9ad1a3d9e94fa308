"""The records a client reads inside answers: reasons and explanations, decisions and their evidence, lineage.

Pure data (msgspec Structs and TypedDicts, msgspec only). The server keeps these records too (the log's role
events carry a `Decision`, the registry stores a `Lineage`): it imports them from here
(`fraudlog.domain.records` re-exports them), so the server's records and the client's never disagree on a field.

Field order is the order the stored JSON has always had; optional parts are omitted when absent.
"""

from __future__ import annotations

from typing import Any, TypedDict

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
