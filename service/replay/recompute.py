"""Recompute predictions from the log: the scorer's decisions, taken again by the same pure functions.

Which versions score an event comes from the assignment table (a pure function of the promotion events),
features from `batch_features` over the event's history, scores from `score_one` on frozen, HMAC-verified
artifacts. Nothing here depends on when, in which batch or on which worker the event was first scored,
which is why a replay can expect bit-for-bit equality (invariants 3 and 4, docs/INVARIANTS.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fraudlog.domain.assignment import Assignment, AssignmentTable
from fraudlog.domain.features import FeatureValues, TxView
from fraudlog.domain.suppressions import Suppression, holding_back
from fraudlog.ml.specs import score_one, union_categories
from fraudlog.models.cache import LoadedVersion
from fraudlog.models.explanations import stored_reasons
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.predictions import PredictionRecord
from fraudlog.store.scoring_failures import ATTEMPTS

# One prediction as the log says it must be: exactly the fields stored, so the two compare field by field.
Recomputed = PredictionRecord


def scoring_versions(assignment: Assignment) -> tuple[int, ...]:
    """The versions the scorer writes a prediction for. The scorer skips an event that has no champion
    (before the first promotion, or after the champion was retired), challengers included."""
    return assignment.versions if assignment.champion is not None else ()


def categories_scoring(registry: ModelRegistry, table: AssignmentTable, targets: Iterable[TxView]) -> tuple[str, ...]:
    """Every category that a version scoring one of `targets` reads: what to compute their features with."""
    versions = {v for tx in targets for v in scoring_versions(table.assignment_at(tx.position))}
    return union_categories(registry.load(version).spec for version in versions)


@dataclass(frozen=True, slots=True)
class Failed:
    """A (transaction, version) whose score raised on every attempt: what the scorer records as a scoring
    failure (`fraudlog.store.scoring_failures`) instead of a prediction."""

    transaction_id: str
    model_version: int
    position: int
    champion: bool
    error: Exception


def recompute(registry: ModelRegistry, table: AssignmentTable, targets: Sequence[TxView],
              features: dict[int, FeatureValues], categories: Sequence[str] = (),
              failures: list[Failed] | None = None) -> list[Recomputed]:
    """Every prediction the scorer must have written for `targets`, in target order, from `features`
    computed with `categories` (at least `categories_scoring`'s). Given `failures`, a score that raises on every
    one of the scorer's `ATTEMPTS` is appended there, as the scorer records it, rather than raised."""
    result: list[Recomputed] = []
    loaded: dict[int, LoadedVersion] = {}
    for tx in targets:
        assignment = table.assignment_at(tx.position)
        for version in scoring_versions(assignment):
            model = loaded.get(version) or loaded.setdefault(version, registry.load(version))
            own = model.spec.own_features(features[tx.position], categories)
            champion = version == assignment.champion
            try:
                score = _score_with_attempts(model, own, ATTEMPTS if failures is not None else 1)
            except Exception as exc:
                if failures is None:
                    raise
                failures.append(Failed(tx.transaction_id, version, tx.position, champion, exc))
                continue
            result.append(Recomputed(tx.transaction_id, version, tx.position, champion, score, model.threshold,
                                     own, stored_reasons(model, own, score, champion=champion)))
    return result


def _score_with_attempts(model: LoadedVersion, own: FeatureValues, attempts: int) -> float:
    """As the scorer tries a score (`Scorer._predict`): the last attempt's error is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return float(score_one(model.model, model.spec, own))
        except Exception:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def score_with(registry: ModelRegistry, version: int, tx: TxView, features: FeatureValues, *,
               champion: bool, categories: Sequence[str] = ()) -> Recomputed:
    loaded = registry.load(version)  # loaded once per registry, and only if its SHA-256 and HMAC verify
    own = loaded.spec.own_features(features, categories)
    score = float(score_one(loaded.model, loaded.spec, own))
    return Recomputed(tx.transaction_id, version, tx.position, champion, score, loaded.threshold, own,
                      stored_reasons(loaded, own, score, champion=champion))


def with_suppressions(suppressions: Sequence[Suppression], replayed: Sequence[Recomputed],
                      targets: Iterable[TxView]) -> list[Recomputed]:
    """The recomputed predictions, each champion that would alert naming the suppression that held its alert
    back, as the scorer stored it (invariant 27)."""
    if not suppressions:
        return list(replayed)
    views = {tx.position: tx for tx in targets}
    return [dataclasses.replace(p, suppressed_by=holding_back(suppressions, views[p.position].card_id, p.position,
                                                             views[p.position].event_time))
            if p.champion and p.score >= p.threshold else p for p in replayed]
