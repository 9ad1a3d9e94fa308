"""Read models of the registry: the summaries `/v1/models` and `fraudlog models` show."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.engine import Engine

from service.domain.events import format_time
from service.store.registry import ModelRegistry, VersionRecord
from service.store.stats import model_quality


class HasRegistry(Protocol):
    engine: Engine
    registry: ModelRegistry


def summary(record: VersionRecord, status: str, live: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": record.version,
        "status": status,
        "parent_version": record.parent_version,
        "created_at": format_time(record.created_at),
        "model_spec": record.model_spec,
        "threshold": record.threshold,
        "metrics": record.metrics,
        "live_metrics": live,
    }


def version_summaries(store: HasRegistry) -> list[dict[str, Any]]:
    table = store.registry.assignments()
    with store.engine.connect() as conn:
        quality = model_quality(conn)
    empty = {"predictions": 0, "alert_rate": None, "labels": 0, "frauds": 0, "roc_auc": None}
    return [summary(r, table.status_of(r.version) or "challenger", quality.get(r.version, empty))
            for r in store.registry.list()]


def version_detail(store: HasRegistry, version: int) -> dict[str, Any]:
    """Full lineage, exactly as the contract lists it."""
    record = store.registry.get(version)
    verified = store.registry.verify_artifact(version)
    status = store.registry.assignments().status_of(version) or "challenger"
    return {
        "version": record.version,
        "parent_version": record.parent_version,
        "created_at": format_time(record.created_at),
        "status": status,
        "model_spec": record.model_spec,
        "training_code": record.training_code,
        "training_data": record.training_data,
        "environment": record.environment,
        "artifact": {"size": record.artifact_size, "sha256": record.artifact_sha256, "hmac_verified": verified},
        "threshold": record.threshold,
        "metrics": record.metrics,
        "watermark": record.watermark,
    }
