"""Read models of the registry: what `/v1/models` and `fraudlog models` show of each version.

The views take the registry (which knows its engine) and nothing of the web framework, so the API and the
CLI show the same thing. A version's status comes from the promotion events; a version never named by one
is a challenger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import msgspec

from fraudlog.domain.assignment import CHALLENGER, AssignmentTable
from fraudlog.domain.events import format_time
from fraudlog.domain.records import Decision, Trigger, VersionRecord
from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.ml.explain import explanation_method
from fraudlog.models.registry import ModelRegistry
from fraudlog.responses.models import Artifact, DecisionView, ExplanationView, LiveMetrics, ModelDetail, ModelSummary
from fraudlog.responses.statuses import ModelStatus
from fraudlog.store.stats import model_quality
from fraudlog.views.version_traits import version_traits

NO_TRAFFIC = LiveMetrics(predictions=0, alert_rate=None, labels=0, frauds=0, roc_auc=None)


def model_summaries(registry: ModelRegistry) -> list[ModelSummary]:
    """Every version, oldest first, with its status and live metrics."""
    table = registry.assignments()
    with registry.engine.connect() as conn:
        quality = model_quality(conn)
    return [_summary(record, _status(table.status_of(record.version)),
                     msgspec.convert(quality[record.version], LiveMetrics) if record.version in quality
                     else NO_TRAFFIC, _decisions(table, record.version)[-1:])
            for record in registry.list()]


def model_detail(registry: ModelRegistry, version: int) -> ModelDetail:
    """The version's lineage (raises `UnknownVersion`), with its artifact's HMAC verified now."""
    record = registry.get(version)
    verified = registry.verify_artifact(version)
    table = registry.assignments()
    status = _status(table.status_of(version))
    return ModelDetail(
        version=record.version, parent_version=record.parent_version, created_at=format_time(record.created_at),
        status=status, model_spec=record.model_spec, training_code=record.training_code,
        training_data=record.training_data, environment=record.environment,
        artifact=Artifact(size=record.artifact_size, sha256=record.artifact_sha256, hmac_verified=verified),
        threshold=record.threshold, metrics=record.metrics, watermark=record.watermark,
        decisions=_decisions(table, version), trigger=trigger_of(record),
        explanation=_explanation(registry, version) if verified else None)


def _explanation(registry: ModelRegistry, version: int) -> ExplanationView | None:
    try:
        loaded = registry.load(version)
    except ArtifactRejected:
        return None
    return msgspec.convert(explanation_method(loaded.model, loaded.spec), ExplanationView, from_attributes=True)


@dataclass(frozen=True)
class ModelDescription:
    """What `/metrics` says about a version beyond its live figures."""

    status: str
    spec: str
    threshold: float
    target_alert_rate: float | None = None  # what the threshold was calibrated for


def model_descriptions(registry: ModelRegistry) -> dict[int, ModelDescription]:
    """Each version's status, spec name, threshold and target alert rate, by version."""
    table = registry.assignments()
    return {r.version: ModelDescription(_status(table.status_of(r.version)), str(r.model_spec.get("name", "")),
                                        r.threshold, _target_alert_rate(r))
            for r in registry.list()}


def _target_alert_rate(record: VersionRecord) -> float | None:
    target = record.metrics.get("target_alert_rate")
    return None if target is None else float(target)


def _summary(record: VersionRecord, status: ModelStatus, live: LiveMetrics, last: list[DecisionView],
             ) -> ModelSummary:
    target = record.metrics.get("target_alert_rate")
    return ModelSummary(version=record.version, status=status, parent_version=record.parent_version,
                        created_at=format_time(record.created_at), model_spec=record.model_spec,
                        threshold=record.threshold, metrics=record.metrics, live_metrics=live,
                        target_alert_rate=None if target is None else float(target),
                        last_decision=last[0] if last else None, trigger=trigger_of(record),
                        traits=version_traits(record.model_spec, trigger_of(record)))


def _decisions(table: AssignmentTable, version: int) -> list[DecisionView]:
    out = []
    for change in table.changes_of(version):
        decision = change.decision
        out.append(DecisionView(position=change.position, role=change.role,
                                kind=decision.kind if decision else None, action=decision.action if decision else None,
                                reason=decision.reason if decision else None,
                                evidence=decision.evidence if decision else None))
    return out


def _status(named: str | None) -> ModelStatus:
    return cast(ModelStatus, named or CHALLENGER)


def describe_decision(decision: Decision | DecisionView | None) -> str:
    """One line for a recorded decision: who, what, and the evidence when a test ran."""
    if decision is None:
        return "-"
    evidence = decision.evidence
    text = f"{decision.kind or ''} {decision.action or '-'}".strip()
    if evidence is not None and evidence.p_value is not None:
        text += (f": {evidence.challenger_auc:.4f} vs v{evidence.champion} {evidence.champion_auc:.4f}, "
                 f"{evidence.frauds} frauds, p={evidence.p_value:.3g}")
    return text


def trigger_of(record: VersionRecord) -> Trigger | None:
    """The recorded trigger; a version from before triggers were recorded reads as `first` when it has no
    parent, and as unknown (None) otherwise."""
    if record.trigger is not None:
        return record.trigger
    return {"kind": "first"} if record.parent_version is None else None
