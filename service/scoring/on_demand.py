"""Scoring on demand: features from the log as it stands, a chosen version, nothing stored."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.events import PredictIn, canonical_transaction
from service.domain.features import FeatureValues, TxView, batch_features, history_query
from service.ml.specs import score_one
from service.store.event_log import EventLog
from service.store.history import fetch_history
from service.store.registry import ModelRegistry, UnknownVersion


@dataclass(frozen=True)
class OnDemandScore:
    score: float
    is_alert: bool
    threshold: float
    model_version: int
    features: FeatureValues


class NoChampion(LookupError):
    pass


def predict(registry: ModelRegistry, request: PredictIn) -> OnDemandScore:
    """Score as if the transaction were appended now: its history is every earlier event of its card.

    A pinned `model_version` is honoured or refused (UnknownVersion): never silently replaced.
    """
    position = EventLog(registry.engine).last_position() + 1
    version = request.model_version
    if version is None:
        version = registry.assignments(through=position).assignment_at(position).champion
        if version is None:
            raise NoChampion("no model version has been promoted yet")
    loaded = registry.load(version)  # raises UnknownVersion for a version that does not exist
    tx = TxView.from_payload(position, canonical_transaction(request.transaction))
    query = history_query([tx])
    with registry.engine.connect() as conn:
        history = fetch_history(conn, query, categories=loaded.spec.categories) if query else []
    features = batch_features([tx], history, loaded.spec.categories)[position]
    score = float(score_one(loaded.model, loaded.spec, features))
    return OnDemandScore(score, score >= loaded.threshold, loaded.threshold, version, features)


__all__ = ["NoChampion", "OnDemandScore", "UnknownVersion", "predict"]
