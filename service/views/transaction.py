"""Everything known about one transaction: the event, its predictions, its label and its alert.

`GET /v1/transactions/{id}` answers with a `TransactionView`. The view reads each record once (the event,
its predictions, its label, its alert) and, given the registry, hands the event and the predictions it
already holds to the audit (`fraudlog.views.audit`), which asks the database only for what it lacks: the
assignment and the history as of the event's position.
"""

from __future__ import annotations

from typing import cast

import msgspec
from sqlalchemy.engine import Engine

from fraudlog.domain.events import format_time
from fraudlog.domain.records import Explanation, LabelRow, PredictionRow
from fraudlog.models.explanations import explanation_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.responses.statuses import AlertStatus
from fraudlog.responses.transaction import (
    LabelView,
    PredictionView,
    ScoringFailureView,
    TransactionAlert,
    TransactionRecord,
    TransactionView,
)
from fraudlog.store.event_log import EventLog, EventRecord
from fraudlog.store.labels import label_for
from fraudlog.store.outbox import AlertRecord, alert_for_transaction
from fraudlog.store.predictions import PredictionRecord, predictions_for
from fraudlog.store.scoring_failures import failures_for
from fraudlog.views.audit import PredictionAudit, audit_predictions


def load_transaction_view(engine: Engine, transaction_id: str, registry: ModelRegistry | None = None,
                          ) -> TransactionView | None:
    """The transaction and what was derived from it (None: no such transaction in the log). Given the
    registry, each prediction also carries its audit, computed now."""
    event = EventLog(engine).get_transaction(transaction_id)
    if event is None:
        return None
    rows = predictions_for(engine, transaction_id)
    label = label_for(engine, transaction_id)
    alert = alert_for_transaction(engine, transaction_id)
    shown = [_prediction(row) for row in rows]
    if registry is not None and rows:
        audits = audit_predictions(registry, event, [_stored(row) for row in rows])
        shown = [_with_audit(view, audits[view.model_version]) for view in shown]
        shown = [_with_reasons(registry, view) for view in shown]
    failures = [ScoringFailureView(model_version=f.model_version, champion=f.champion, error=f.error,
                                   attempts=f.attempts, failed_at=format_time(f.failed_at))
                for f in failures_for(engine, transaction_id)]
    return TransactionView(transaction=_transaction(event), predictions=shown,
                           label=None if label is None else _label(label),
                           alert=None if alert is None else _alert(alert), scoring_failures=failures)


def _transaction(event: EventRecord) -> TransactionRecord:
    document = {**event.payload, "position": event.position, "recorded_at": format_time(event.recorded_at)}
    return msgspec.convert(document, TransactionRecord)


def _prediction(row: PredictionRow) -> PredictionView:
    return PredictionView(model_version=row.model_version, champion=row.champion, score=row.score,
                          threshold=row.threshold, features=row.features, scored_at=format_time(row.scored_at),
                          reasons=msgspec.UNSET if row.reasons is None else row.reasons,
                          suppressed_by=msgspec.UNSET if row.suppressed_by is None else row.suppressed_by)


def _stored(row: PredictionRow) -> PredictionRecord:
    """A predictions row as replay compares it, so the audit need not read the predictions again."""
    reasons = None if row.reasons is None else msgspec.to_builtins(row.reasons)
    return PredictionRecord(row.transaction_id, row.model_version, row.position, row.champion, row.score,
                            row.threshold, row.features, reasons, row.suppressed_by)


def _with_reasons(registry: ModelRegistry, view: PredictionView) -> PredictionView:
    if isinstance(view.reasons, Explanation):
        return view
    explanation = explanation_for(registry.load(view.model_version), view.features)
    return msgspec.structs.replace(view, reasons=msgspec.convert(explanation, Explanation))


def _with_audit(view: PredictionView, audit: PredictionAudit) -> PredictionView:
    return msgspec.structs.replace(view, lineage=audit.lineage, reproduced=not audit.differences,
                                   replay_differences=audit.differences)


def _label(row: LabelRow) -> LabelView:
    return LabelView(is_fraud=row.is_fraud, labeled_at=format_time(row.labeled_at), position=row.position,
                     corrections=row.corrections, source=row.source)


def _alert(alert: AlertRecord) -> TransactionAlert:
    return TransactionAlert(
        alert_id=alert.alert_id, status=cast(AlertStatus, alert.status), score=alert.score,
        threshold=alert.threshold, model_version=alert.model_version, created_at=format_time(alert.created_at),
        attempts=alert.attempts, sent_at=None if alert.sent_at is None else format_time(alert.sent_at),
        last_error=alert.last_error)
