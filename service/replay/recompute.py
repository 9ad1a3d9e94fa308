"""Recompute predictions from the log: the scorer's decisions, taken again by the same pure functions.

Which versions score an event comes from the assignment table (a pure function of the promotion events),
features from `batch_features` over the event's history, scores from `score_one` on frozen, HMAC-verified
artifacts. Nothing here depends on when, in which batch or on which worker the event was first scored,
which is why a replay can expect bit-for-bit equality (invariants 3 and 4, docs/INVARIANTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from service.domain.assignment import Assignment, AssignmentTable
from service.domain.features import TxView
from service.ml.specs import score_one
from service.store.predictions import PredictionRecord
from service.store.registry import LoadedVersion, ModelRegistry

# One prediction as the log says it must be: exactly the fields stored, so the two compare field by field.
Recomputed = PredictionRecord


def scoring_versions(assignment: Assignment) -> tuple[int, ...]:
    """The versions the scorer writes a prediction for. The scorer skips an event that has no champion
    (before the first promotion, or after the champion was retired), challengers included."""
    return assignment.versions if assignment.champion is not None else ()


def recompute(registry: ModelRegistry, table: AssignmentTable, targets: Sequence[TxView],
              features: dict[int, dict[str, float]]) -> list[Recomputed]:
    """Every prediction the scorer must have written for `targets`, in target order."""
    result: list[Recomputed] = []
    loaded: dict[int, LoadedVersion] = {}
    for tx in targets:
        assignment = table.assignment_at(tx.position)
        for version in scoring_versions(assignment):
            model = loaded.get(version) or loaded.setdefault(version, registry.load(version))
            result.append(Recomputed(tx.transaction_id, version, tx.position, version == assignment.champion,
                                     float(score_one(model.model, model.spec, features[tx.position])),
                                     model.threshold, features[tx.position]))
    return result


def score_with(registry: ModelRegistry, version: int, tx: TxView, features: dict[str, float], *,
               champion: bool) -> Recomputed:
    loaded = registry.load(version)  # loaded once per registry, and only if its SHA-256 and HMAC verify
    score = float(score_one(loaded.model, loaded.spec, features))
    return Recomputed(tx.transaction_id, version, tx.position, champion, score, loaded.threshold, features)
