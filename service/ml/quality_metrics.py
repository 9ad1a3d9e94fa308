"""Average precision, precision and recall at a threshold, and the Brier score, from raw scores.

The companions of `fraudlog.ml.metrics.roc_auc` for judging a version over time (`fraudlog.ml.quality`).
Each is a documented formula computed exactly from the labelled scores; each returns None when it is not
defined on the data (no fraud, no alert, nothing labelled), never a made-up 0.

- Average precision is scikit-learn's `average_precision_score`: AP = sum over the distinct scores s, from the
  highest down, of (R(s) - R(s_prev)) * P(s), where P(s) and R(s) are the precision and recall when every
  score >= s is called fraud. Tied scores are one threshold, so the order of tied events does not matter; no
  interpolation (the trapezoid overstates AP). It summarises the whole precision-recall curve, which is what
  matters when frauds are rare: ROC AUC is dominated by the many legitimate events.
- Precision and recall at a threshold call a score fraud when it is >= the threshold, as alerting does.
- The Brier score is the mean of (score - y)^2 with y = 1 for fraud: 0 is perfect; it judges calibration as
  well as ranking, so it only means something for a version whose scores are probabilities.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from operator import itemgetter


def average_precision(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Exact average precision (step-wise, ties as one threshold); None without any fraud."""
    _require_pairs(scores, labels)
    frauds = sum(bool(label) for label in labels)
    if frauds == 0:
        return None
    ranked = sorted(zip(scores, labels, strict=True), key=itemgetter(0), reverse=True)
    total = 0.0
    true_positives = called = 0
    for _, group in itertools.groupby(ranked, key=itemgetter(0)):
        tied = [bool(label) for _, label in group]
        true_positives += sum(tied)
        called += len(tied)
        # Recall rises by (hits in this group) / frauds; weight it by the precision at this threshold.
        total += (sum(tied) / frauds) * (true_positives / called)
    return total


def precision_at(scores: Sequence[float], labels: Sequence[bool], threshold: float | Sequence[float],
                 ) -> float | None:
    """Share of frauds among the labelled events scored >= their threshold; None when none was."""
    hits, called = _confusion(scores, labels, threshold)
    return hits / called if called else None


def recall_at(scores: Sequence[float], labels: Sequence[bool], threshold: float | Sequence[float]) -> float | None:
    """Share of the labelled frauds scored >= their threshold; None without any fraud."""
    hits, _ = _confusion(scores, labels, threshold)
    frauds = sum(bool(label) for label in labels)
    return hits / frauds if frauds else None


def brier_score(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Mean squared difference between score and outcome (1 fraud, 0 legitimate); None when nothing is labelled."""
    _require_pairs(scores, labels)
    if not scores:
        return None
    return math.fsum((score - float(bool(label))) ** 2 for score, label in zip(scores, labels, strict=True)) / len(
        scores)


def _confusion(scores: Sequence[float], labels: Sequence[bool], threshold: float | Sequence[float],
               ) -> tuple[int, int]:
    """(frauds called, events called): called means score >= threshold (one threshold, or one per event)."""
    _require_pairs(scores, labels)
    thresholds = [threshold] * len(scores) if isinstance(threshold, float | int) else threshold
    called = [score >= limit for score, limit in zip(scores, thresholds, strict=True)]
    return sum(c and bool(y) for c, y in zip(called, labels, strict=True)), sum(called)


def _require_pairs(scores: Sequence[float], labels: Sequence[bool]) -> None:
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    # NaN compares false with everything, which would silently scramble the ranking.
    if any(math.isnan(score) for score in scores):
        raise ValueError("a score is NaN; these metrics need every score to be a number")
