"""Scoring on demand: features from the log as it stands, one or several versions, nothing stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fraudlog.domain.assignment import CHALLENGER
from fraudlog.domain.events import PredictIn, canonical_transaction
from fraudlog.domain.features import FeatureValues, TxView, batch_features, history_query
from fraudlog.domain.records import StoredExplanation
from fraudlog.ml.specs import score_one, union_categories
from fraudlog.models.explanations import explanation_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.event_log import EventLog
from fraudlog.store.history import fetch_history
from fraudlog.store.versions import UnknownVersion


@dataclass(frozen=True)
class OnDemandScore:
    score: float
    is_alert: bool
    threshold: float
    model_version: int
    features: FeatureValues
    reasons: StoredExplanation  # the version's explanation of the score (`fraudlog.models.explanations`)


@dataclass(frozen=True)
class VersionScore:
    """One version's answer in a comparison, with its role now (champion, challenger or retired; a version
    never named by a promotion event counts as a challenger, as `GET /v1/models` shows it)."""

    model_version: int
    status: str
    score: float
    threshold: float
    is_alert: bool
    reasons: StoredExplanation


@dataclass(frozen=True)
class Comparison:
    features: FeatureValues
    scores: list[VersionScore]


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
    features = _features_at(registry, request, position, loaded.spec.categories)
    score = float(score_one(loaded.model, loaded.spec, features))
    return OnDemandScore(score, score >= loaded.threshold, loaded.threshold, version, features,
                         explanation_for(loaded, features))


def compare(registry: ModelRegistry, request: PredictIn, versions: Sequence[int] | Literal["live"]) -> Comparison:
    """Score the same features with each version, in the order asked (`"live"`: champion first, then the
    challengers): the features are computed once, so the scores differ by the model alone.

    Every named version must exist (UnknownVersion names the first that does not); "live" with no champion
    serving is NoChampion.
    """
    position = EventLog(registry.engine).last_position() + 1
    table = registry.assignments(through=position)
    if versions == "live":
        live = table.assignment_at(position)
        if live.champion is None:
            raise NoChampion("no model version has been promoted yet")
        versions = live.versions
    loaded = [registry.load(v) for v in dict.fromkeys(versions)]  # all exist before any is scored
    categories = union_categories(version.spec for version in loaded)
    features = _features_at(registry, request, position, categories)
    scores = []
    for version in loaded:
        own = version.spec.own_features(features, categories)
        score = float(score_one(version.model, version.spec, own))
        scores.append(VersionScore(version.version, table.status_of(version.version) or CHALLENGER, score,
                                   version.threshold, score >= version.threshold, explanation_for(version, own)))
    return Comparison(features, scores)


def _features_at(registry: ModelRegistry, request: PredictIn, position: int,
                 categories: Sequence[str]) -> FeatureValues:
    """The transaction's features as if appended at `position`, with the per-card features of `categories`."""
    tx = TxView.from_payload(position, canonical_transaction(request.transaction))
    query = history_query([tx])
    with registry.engine.connect() as conn:
        history = fetch_history(conn, query, categories=categories) if query else []
    return batch_features([tx], history, categories)[position]


__all__ = ["Comparison", "NoChampion", "OnDemandScore", "UnknownVersion", "VersionScore", "compare", "predict"]
