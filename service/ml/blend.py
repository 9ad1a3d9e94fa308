"""The rank-average blend: a supervised model and an anomaly detector, each contributing its percentile.

A logistic regression sees the fraud patterns that labels have taught it; HalfSpaceTrees sees what is merely
unusual, including patterns no label has shown yet. Their scores live on different scales (a probability, a
mass count), so neither is averaged raw: each member's score is replaced by its mid-percentile among that
member's own scores of recent traffic (the *reference*, fixed at training), and the blend is the mean of
those percentiles, in [0, 1]. The reference is part of the frozen artifact, so a blend scores the same
event the same way forever (invariant 4).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Features = Mapping[str, Any]
Model = Any  # a member's River model: River ships no type information


class MemberSpec(Protocol):
    """What a blend needs of its members' specs (`fraudlog.ml.specs.ModelSpec` is one): the blend builds on
    the specs it is given, so this module imports no spec code and `specs` can build blends."""

    def build_model(self) -> Model: ...

    def score_one(self, model: Model, features: Features) -> float: ...


class RankBlend:
    """Members (name -> spec and model) and, once fitted, each member's sorted reference scores."""

    def __init__(self, specs: Mapping[str, MemberSpec]) -> None:
        self.specs = dict(specs)
        self.models: dict[str, Model] = {name: spec.build_model() for name, spec in self.specs.items()}
        self.references: dict[str, list[float]] = {}

    def set_references(self, scores: Mapping[str, Sequence[float]]) -> None:
        """Fix each member's reference distribution (its scores of recent traffic)."""
        self.references = {name: sorted(values) for name, values in scores.items()}

    def member_scores(self, features: Features) -> dict[str, float]:
        return {name: self.specs[name].score_one(model, features) for name, model in self.models.items()}

    def score_one(self, features: Features) -> float:
        scores = self.member_scores(features)
        ranks = [_mid_percentile(self.references.get(name, ()), score) for name, score in scores.items()]
        return sum(ranks) / len(ranks)


def _mid_percentile(reference: Sequence[float], score: float) -> float:
    """The share of the reference below `score`, ties counted half; 0.5 without a reference."""
    if not reference:
        return 0.5
    below = bisect.bisect_left(reference, score)
    tied = bisect.bisect_right(reference, score) - below
    return (below + tied / 2) / len(reference)
