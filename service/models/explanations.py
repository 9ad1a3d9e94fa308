"""Which predictions carry stored reasons, and the reasons themselves, from a loaded version.

The rule is one function so the scorer, replay and rebuild cannot disagree: a champion prediction at or
above its threshold (an alert) stores its explanation; every other prediction stores none and is explained
on demand from its stored features. Both are pure functions of the features and the frozen version
(`fraudlog.ml.explain`), so replay recomputes the stored ones and compares them bit for bit (invariant in
docs/INVARIANTS.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fraudlog.domain.records import StoredExplanation
from fraudlog.ml.explain import TOP_K, explain
from fraudlog.models.cache import LoadedVersion


def explanation_for(loaded: LoadedVersion, features: Mapping[str, Any], *, top_k: int = TOP_K) -> StoredExplanation:
    """The explanation of `loaded`'s score of `features`, as stored (JSON values)."""
    return explain(loaded.model, loaded.spec, features, top_k=top_k).to_dict()


def stored_reasons(loaded: LoadedVersion, features: Mapping[str, Any], score: float, *, champion: bool,
                   ) -> StoredExplanation | None:
    """What a prediction stores in `reasons`: its explanation when it alerts, else None."""
    if champion and score >= loaded.threshold:
        return explanation_for(loaded, features)
    return None
