"""Drift detectors on the three signals a served version gives, with hysteresis. Pure: no I/O.

1. **Performance** (`PerformanceMonitor`), the signal that matters: matured labels in label-arrival order.
   Each labelled fraud becomes its *rank* among the scores of the newest labelled legitimate transactions
   (the fraction of them it outscores). The mean of that stream is the version's ROC AUC (AUC = P(score of
   a fraud > score of a legitimate one)). After each fraud, a one-sided Mann-Whitney U test (scipy) asks
   whether the newest `w` ranks are lower than the (at most `reference_frauds`) ranks before them, for each
   `w` in `rank_windows`: a short window sees a break soon, a long one a smaller, sustained fall. It fires
   when a window's z crosses the level of `rank_alpha` (shared by the windows) and the fall is at least
   `min_drop`. The test is on ranks, so it assumes nothing of their distribution (skewed: most frauds rank
   near 1), and its noise scales with the model: a weak model's ranks spread more and need more evidence.
   A rank is scale-free: it needs no calibration, works for anomaly scores and probabilities alike, and a
   covariate shift that moves scores but not their order does not move it.
2. **Scores** (`DistributionMonitor` over the score): the population stability index (PSI) of the newest
   `psi_window` scores against the version's reference (its calibration window), label-free and early.
3. **Features** (`DistributionMonitor` per numeric feature): the same PSI against the training window,
   naming the features that moved.

Hysteresis, so a stationary stream does not alarm (River #1914, #1963: ADWIN at its defaults fires about as
often as a detector that always does; a KS test rejects anything at large n): the PSI must exceed its
threshold at `confirmations` consecutive checks (one every `check_every` values) and may fire again only
after it has fallen below half the threshold; the performance test needs a fall of at least `min_drop` at a
strict level, and forgets its ranks after each detection (it needs twice its shortest window of frauds
again). All feed on a stream in log order only, so running them again over the same log gives the same
detections, bit for bit.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import mannwhitneyu, norm

from fraudlog.domain.drift_settings import DriftParameters

SIGNAL_PERFORMANCE = "performance"
SIGNAL_SCORE = "score"
SIGNAL_FEATURES = "features"
SIGNALS = (SIGNAL_PERFORMANCE, SIGNAL_SCORE, SIGNAL_FEATURES)
__all__ = ["SIGNALS", "Detection", "DistributionMonitor", "DriftParameters", "PerformanceMonitor", "detection_id"]


def detection_id(model_version: int, signal: str, position: int) -> str:
    """The id of a detection: the same wherever and however often the log is replayed to `position`."""
    return hashlib.sha256(f"drift:{model_version}:{signal}:{position}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Detection:
    """One detection: where, by what, on what evidence. `first`/`last` bound the window (log positions)."""

    signal: str
    position: int
    detector: str
    parameters: dict[str, Any]
    statistic: float
    threshold: float
    first: int
    last: int
    details: dict[str, Any] = field(default_factory=dict)


class PerformanceMonitor:
    """A one-sided Mann-Whitney U test: are the newest labelled frauds ranked lower than the ones before them?"""

    def __init__(self, parameters: DriftParameters) -> None:
        self.parameters = parameters
        self._legit_order: deque[float] = deque()
        self._legit_sorted: list[float] = []
        longest = max(parameters.rank_windows)
        self._ranks: deque[float] = deque(maxlen=longest + parameters.reference_frauds)
        self._positions: deque[int] = deque(maxlen=longest + parameters.reference_frauds)
        self._transactions: deque[int] = deque(maxlen=longest + parameters.reference_frauds)
        # The level a window's z must cross: the per-check false-alarm probability, shared by the windows.
        self._critical = float(norm.isf(parameters.rank_alpha / len(parameters.rank_windows)))
        self._windows = sorted(parameters.rank_windows)

    def add(self, position: int, score: float, is_fraud: bool, transaction_position: int | None = None,
            ) -> Detection | None:
        """One matured label (at log `position`) with the served score of its transaction (at
        `transaction_position`, which dates the change a detection reports; the label's own when absent)."""
        if not is_fraud:
            self._add_legit(score)
            return None
        if len(self._legit_sorted) < self.parameters.min_reference:
            return None
        self._ranks.append(self._rank(score))
        self._positions.append(position)
        self._transactions.append(position if transaction_position is None else transaction_position)
        ranks = list(self._ranks)  # one copy per fraud, shared by the windows' tests
        for window in self._windows:
            detection = self._test(ranks, window, position)
            if detection is not None:
                self._ranks.clear()  # re-armed: the next detection needs evidence of its own
                self._positions.clear()
                self._transactions.clear()
                return detection
        return None

    def _test(self, ranks: list[float], window: int, position: int) -> Detection | None:
        p = self.parameters
        if len(ranks) < 2 * window:
            return None
        recent, earlier = ranks[-window:], ranks[-window - p.reference_frauds:-window]
        recent_auc, earlier_auc = sum(recent) / len(recent), sum(earlier) / len(earlier)
        if earlier_auc - recent_auc < p.min_drop:  # cheap, and no test of a fall too small to matter
            return None
        test = mannwhitneyu(recent, earlier, alternative="less", method="asymptotic")
        z = float(norm.isf(max(float(test.pvalue), 1e-300)))
        if z < self._critical:
            return None
        first = self._positions[len(self._positions) - window - len(earlier)]
        # Every fraud of the window that fired was ranked low: the change is no later than the oldest of them.
        change_from = min(list(self._transactions)[-window:])
        return Detection(
            SIGNAL_PERFORMANCE, position, "scipy.stats.mannwhitneyu (one-sided) on fraud ranks",
            {"windows": list(p.rank_windows), "window": window, "alpha": p.rank_alpha, "min_drop": p.min_drop,
             "reference_frauds": p.reference_frauds, "rank_reference": p.rank_reference},
            statistic=_round(z), threshold=_round(self._critical), first=first, last=position,
            details={"recent_roc_auc": _round(recent_auc), "earlier_roc_auc": _round(earlier_auc),
                     "p_value": float(f"{float(test.pvalue):.6g}"), "recent_frauds": window,
                     "earlier_frauds": len(earlier), "change_from": change_from})

    def _add_legit(self, score: float) -> None:
        self._legit_order.append(score)
        bisect.insort(self._legit_sorted, score)
        if len(self._legit_order) > self.parameters.rank_reference:
            old = self._legit_order.popleft()
            del self._legit_sorted[bisect.bisect_left(self._legit_sorted, old)]

    def _rank(self, score: float) -> float:
        below = bisect.bisect_left(self._legit_sorted, score)
        ties = bisect.bisect_right(self._legit_sorted, score) - below
        return (below + 0.5 * ties) / len(self._legit_sorted)


class DistributionMonitor:
    """PSI of the newest `psi_window` values of each named quantity against its reference, with hysteresis."""

    def __init__(self, signal: str, reference: Mapping[str, Sequence[float]], parameters: DriftParameters) -> None:
        self.signal = signal
        self.parameters = parameters
        self._edges = {name: quantile_edges(values, parameters.psi_bins)
                       for name, values in sorted(reference.items()) if len(set(values)) > 1}
        self._expected = {name: bin_shares(edges, reference[name]) for name, edges in self._edges.items()}
        self._windows: dict[str, deque[float]] = {name: deque(maxlen=parameters.psi_window) for name in self._edges}
        self._positions: deque[int] = deque(maxlen=parameters.psi_window)
        self._seen = 0
        self._streak = 0
        self._armed = True

    @property
    def names(self) -> list[str]:
        return list(self._edges)

    def add(self, position: int, values: Mapping[str, float | str]) -> Detection | None:
        """The values of one scored transaction (at log `position`); a check runs every `check_every`."""
        for name, window in self._windows.items():
            value = values.get(name)
            window.append(float(value) if isinstance(value, int | float) else math.nan)
        self._positions.append(position)
        self._seen += 1
        if self._seen % self.parameters.check_every or len(self._positions) < self.parameters.psi_window:
            return None
        return self._check(position)

    def _check(self, position: int) -> Detection | None:
        p = self.parameters
        psi = {name: population_stability(self._edges[name], self._expected[name], window)
               for name, window in self._windows.items()}
        moved = sorted((name for name, value in psi.items() if value > p.psi_threshold), key=lambda n: -psi[n])
        worst = max(psi.values(), default=0.0)
        if not self._armed:
            self._armed = worst < p.psi_threshold / 2  # re-arm only once the shift has gone away
            return None
        self._streak = self._streak + 1 if moved else 0
        if self._streak < p.confirmations:
            return None
        self._streak, self._armed = 0, False
        return Detection(
            self.signal, position, "population stability index",
            {"threshold": p.psi_threshold, "window": p.psi_window, "bins": p.psi_bins,
             "check_every": p.check_every, "confirmations": p.confirmations},
            statistic=_round(worst), threshold=p.psi_threshold, first=self._positions[0], last=position,
            details={"moved": {name: _round(psi[name]) for name in moved}})


def quantile_edges(values: Iterable[float], bins: int) -> list[float]:
    """Inner bin edges at the reference's quantiles (distinct only: tied values share a bin)."""
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return []
    cuts = {ordered[min(len(ordered) - 1, (len(ordered) * k) // bins)] for k in range(1, bins)}
    return sorted(cuts)


def bin_shares(edges: Sequence[float], values: Iterable[float]) -> list[float]:
    """The share of `values` (NaN left out) in each bin that `edges` delimit; empty bins get half a count
    (the usual correction, so a logarithm of an empty bin is finite)."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        if not math.isnan(value):
            counts[bisect.bisect_right(edges, value)] += 1
    n = sum(counts)
    if n == 0:
        return [1.0 / len(counts)] * len(counts)
    return [max(c, 0.5) / n for c in counts]


def population_stability(edges: Sequence[float], expected: Sequence[float], values: Iterable[float]) -> float:
    """PSI = sum over bins of (actual - expected) * ln(actual / expected), over the reference's bins."""
    if not edges:
        return 0.0
    actual = bin_shares(edges, values)
    return sum((a - e) * math.log(a / e) for a, e in zip(actual, expected, strict=True))


def _round(value: float) -> float:
    """Statistics are stored rounded, so the JSON of a detection is one spelling on every platform."""
    return round(float(value), 6)
