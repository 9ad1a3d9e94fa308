"""Is one model better than another on the same transactions? DeLong's paired test of two ROC AUCs.

Two versions that scored the same labelled transactions give two correlated AUC estimates; DeLong, DeLong
and Clarke-Pearson (1988) estimate the covariance of the two from the placement values of each fraud and
each legitimate transaction, so the test of their difference is far tighter than comparing two separate
intervals. The fast form (Sun and Xu, 2014) needs only the mid-ranks of the scores: O(n log n).

Used by the promotion policy (`fraudlog.lifecycle.promotion`): at 10 frauds the standard error of an AUC is
about 0.07, so a margin on two point estimates decides on noise; a p-value on paired scores does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """Candidate versus incumbent on the same transactions: their AUCs and the one-sided p-value of
    "the candidate's AUC is not higher" (small p: the candidate is better)."""

    transactions: int
    frauds: int
    incumbent_auc: float
    candidate_auc: float
    difference: float  # candidate - incumbent
    standard_error: float
    p_value: float  # one-sided, candidate better
    interval: tuple[float, float]  # 95 % two-sided interval of the difference

    def as_dict(self) -> dict[str, object]:
        return {"transactions": self.transactions, "frauds": self.frauds,
                "incumbent_auc": self.incumbent_auc, "candidate_auc": self.candidate_auc,
                "difference": self.difference, "standard_error": self.standard_error,
                "p_value": self.p_value, "interval_95": list(self.interval)}


def delong_test(incumbent: Sequence[float], candidate: Sequence[float], labels: Sequence[bool]) -> PairedComparison:
    """Compare two versions' scores of the same transactions (same order in all three sequences).

    Raises ValueError unless both classes are present.
    """
    if not len(incumbent) == len(candidate) == len(labels):
        raise ValueError("incumbent, candidate and labels must have the same length")
    truth = np.asarray(labels, dtype=bool)
    m, n = int(truth.sum()), int((~truth).sum())
    if m == 0 or n == 0:
        raise ValueError("a paired AUC test needs both frauds and legitimate transactions")
    scores = np.vstack([np.asarray(incumbent, dtype=float), np.asarray(candidate, dtype=float)])
    positives, negatives = scores[:, truth], scores[:, ~truth]
    aucs, v10, v01 = [], [], []
    for k in range(2):
        rank_pos = rankdata(positives[k])
        rank_neg = rankdata(negatives[k])
        rank_all = rankdata(np.concatenate([positives[k], negatives[k]]))
        placement_pos = (rank_all[:m] - rank_pos) / n  # share of legitimate scored below each fraud
        placement_neg = 1.0 - (rank_all[m:] - rank_neg) / m  # share of frauds scored above each legitimate
        aucs.append(float(placement_pos.mean()))
        v10.append(placement_pos)
        v01.append(placement_neg)
    s10 = np.cov(np.vstack(v10)) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack(v01)) if n > 1 else np.zeros((2, 2))
    covariance = s10 / m + s01 / n
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    difference = aucs[1] - aucs[0]
    error = math.sqrt(max(variance, 0.0))
    if error == 0.0:
        p_value = 0.0 if difference > 0 else 1.0 if difference < 0 else 0.5
    else:
        p_value = float(norm.sf(difference / error))
    half = 1.959963984540054 * error
    return PairedComparison(len(truth), m, aucs[0], aucs[1], difference, error, p_value,
                            (difference - half, difference + half))
