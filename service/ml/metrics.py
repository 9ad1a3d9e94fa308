"""ROC AUC from raw scores, exactly (invariant 9, docs/INVARIANTS.md).

AUC is the probability that a random fraud scores higher than a random legitimate event, a tie counting
one half. It is computed from the scores themselves, never from alert decisions: thresholding first
collapses the ranking to two values and reports 0.5-ish numbers that say nothing about the model.

Both implementations count pairs in integers (twice the number of won pairs, so that a tie adds 1), and
divide once at the end, so the value is the exact fraction rounded once, whatever the order of the input.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from operator import itemgetter


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Exact, rank-based ROC AUC with ties counted half; None unless both classes are present."""
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    _require_numbers(scores)
    twice_wins = negatives_below = positives = 0
    ranked = sorted(zip(scores, labels, strict=True), key=itemgetter(0))
    for _, group in itertools.groupby(ranked, key=itemgetter(0)):
        tied = [bool(label) for _, label in group]
        pos = sum(tied)
        neg = len(tied) - pos
        twice_wins += 2 * pos * negatives_below + pos * neg
        negatives_below += neg
        positives += pos
    return _ratio(twice_wins, positives, negatives_below)


class RunningRocAuc:
    """The exact ROC AUC of a growing set of labelled scores, updated in O(log n) comparisons per event.

    For prequential evaluation and per-version monitoring; keep one per model version, never share one
    across versions.
    """

    __slots__ = ("_negatives", "_positives", "_twice_wins")

    def __init__(self) -> None:
        self._positives: list[float] = []  # sorted
        self._negatives: list[float] = []  # sorted
        self._twice_wins = 0

    def add(self, score: float, is_fraud: bool) -> None:
        _require_numbers((score,))
        if is_fraud:
            below, tied = _below_and_tied(self._negatives, score)
            self._twice_wins += 2 * below + tied
            bisect.insort(self._positives, score)
        else:
            below, tied = _below_and_tied(self._positives, score)
            above = len(self._positives) - below - tied
            self._twice_wins += 2 * above + tied
            bisect.insort(self._negatives, score)

    @property
    def n_positive(self) -> int:
        return len(self._positives)

    @property
    def n_negative(self) -> int:
        return len(self._negatives)

    @property
    def value(self) -> float | None:
        return _ratio(self._twice_wins, len(self._positives), len(self._negatives))


def _below_and_tied(ordered: list[float], score: float) -> tuple[int, int]:
    left = bisect.bisect_left(ordered, score)
    return left, bisect.bisect_right(ordered, score) - left


def _ratio(twice_wins: int, positives: int, negatives: int) -> float | None:
    if positives == 0 or negatives == 0:
        return None
    return twice_wins / (2 * positives * negatives)


def _require_numbers(scores: Sequence[float]) -> None:
    # NaN compares false with everything, which would silently scramble the ranking.
    if any(math.isnan(score) for score in scores):
        raise ValueError("a score is NaN; ROC AUC needs every score to be a number")
