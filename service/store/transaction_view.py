"""Everything known about one transaction: the event, its predictions, its label and its alert."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.domain.events import format_time
from service.store.event_log import EventLog
from service.store.registry import ModelRegistry, UnknownVersion
from service.store.tables import alerts, labels, predictions


def load_transaction_view(engine: Engine, transaction_id: str, registry: ModelRegistry | None = None,
                          ) -> dict[str, Any] | None:
    """The transaction and what was derived from it. Given the registry, each prediction also carries the
    audit view: its version's lineage summary and whether replay reproduces it bit for bit, computed now."""
    event = EventLog(engine).get_transaction(transaction_id)
    if event is None:
        return None
    with engine.connect() as conn:
        prediction_rows = conn.execute(
            sa.select(predictions).where(predictions.c.transaction_id == transaction_id)
            .order_by(predictions.c.model_version)).mappings().all()
        label = conn.execute(sa.select(labels).where(labels.c.transaction_id == transaction_id)).mappings().first()
        alert = conn.execute(sa.select(alerts).where(alerts.c.transaction_id == transaction_id)).mappings().first()
    shown = [
        {"model_version": p["model_version"], "champion": p["champion"], "score": p["score"],
         "threshold": p["threshold"], "features": p["features"], "scored_at": format_time(p["scored_at"])}
        for p in prediction_rows
    ]
    if registry is not None and shown:
        _add_audit(registry, transaction_id, shown)
    return {
        "transaction": {**event.payload, "position": event.position, "recorded_at": format_time(event.recorded_at)},
        "predictions": shown,
        "label": None if label is None else {
            "is_fraud": label["is_fraud"], "labeled_at": format_time(label["labeled_at"]),
            "position": label["position"], "corrections": label["corrections"]},
        "alert": None if alert is None else {
            "alert_id": alert["id"], "status": alert["status"], "score": alert["score"],
            "threshold": alert["threshold"], "model_version": alert["model_version"],
            "created_at": format_time(alert["created_at"]), "attempts": alert["attempts"],
            "sent_at": None if alert["sent_at"] is None else format_time(alert["sent_at"]),
            "last_error": alert["last_error"]},
    }


def _add_audit(registry: ModelRegistry, transaction_id: str, shown: list[dict[str, Any]]) -> None:
    # Imported here: replay builds on the store, so the store reaches up to it only for this view.
    from service.replay.audit import lineage_summary, reproduce_transaction

    verdicts = reproduce_transaction(registry, transaction_id)
    for prediction in shown:
        version = prediction["model_version"]
        differences = verdicts.get(version, ["unexpected"])
        try:
            prediction["lineage"] = lineage_summary(registry, version)
        except UnknownVersion:  # a prediction naming a version that was never registered: nothing to show
            prediction["lineage"] = None
        prediction["reproduced"] = not differences
        prediction["replay_differences"] = differences
