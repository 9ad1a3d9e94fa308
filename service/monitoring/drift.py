"""Drift detectors on the three signals a served version gives, with hysteresis. Pure: no I/O.

1. **Performance** (`PerformanceMonitor`), the signal that matters: matured labels in label-arrival order.
   Each labelled fraud becomes its *rank* among the scores of the newest labelled legitimate transactions
   (the fraction of them it outscores). The mean of that stream is the version's ROC AUC (AUC = P(score of
   a fraud > score of a legitimate one)), so River's Page-Hinkley test (mode "down") on it detects a fall
   in ROC AUC: `delta` is the fall it tolerates, `threshold` the accumulated evidence it needs,
   `min_frauds` the labelled frauds it must have seen since it was (re)armed. A rank is scale-free: it
   needs no calibration, works for anomaly scores and probabilities alike, and a covariate shift that
   moves scores but not their order does not move it.
2. **Scores** (`DistributionMonitor` over the score): the population stability index (PSI) of the newest
   `psi_window` scores against the version's reference (its calibration window), label-free and early.
3. **Features** (`DistributionMonitor` per numeric feature): the same PSI against the training window,
   naming the features that moved.

Hysteresis, so a stationary stream does not alarm (River #1914, #1963: ADWIN at its defaults fires about as
often as a detector that always does; a KS test rejects anything at large n): the PSI must exceed its
threshold at `confirmations` consecutive checks (one every `check_every` values) and may fire again only
after it has fallen below half the threshold; Page-Hinkley restarts from nothing after each detection and
needs `min_frauds` frauds again. Both feed on a stream in log order only, so running them again over the
same log gives the same detections, bit for bit.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from river.drift import PageHinkley

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
    """Page-Hinkley on the ranks of labelled frauds among recent labelled legitimate scores."""

    def __init__(self, parameters: DriftParameters) -> None:
        self.parameters = parameters
        self._legit_order: deque[float] = deque()
        self._legit_sorted: list[float] = []
        self._detector = self._new_detector()
        self._frauds = 0
        self._first_position: int | None = None
        self._recent: deque[float] = deque(maxlen=parameters.min_frauds)

    def _new_detector(self) -> PageHinkley:
        p = self.parameters
        return PageHinkley(min_instances=p.min_frauds, delta=p.ph_delta, threshold=p.ph_threshold, alpha=p.ph_alpha,
                           mode="down")

    def add(self, position: int, score: float, is_fraud: bool) -> Detection | None:
        """One matured label (at log `position`) with the served score of its transaction."""
        if not is_fraud:
            self._add_legit(score)
            return None
        if len(self._legit_sorted) < self.parameters.min_reference:
            return None
        rank = self._rank(score)
        if self._first_position is None:
            self._first_position = position
        self._frauds += 1
        self._recent.append(rank)
        self._detector.update(rank)
        if not self._detector.drift_detected or self._frauds < self.parameters.min_frauds:
            return None
        detection = Detection(
            SIGNAL_PERFORMANCE, position, "river.drift.PageHinkley(mode=down) on fraud ranks",
            {"delta": self.parameters.ph_delta, "threshold": self.parameters.ph_threshold,
             "alpha": self.parameters.ph_alpha, "min_frauds": self.parameters.min_frauds,
             "rank_reference": self.parameters.rank_reference},
            statistic=_round(self._detector._max_decrease - self._detector._sum_decrease),
            threshold=self.parameters.ph_threshold, first=self._first_position, last=position,
            details={"recent_roc_auc": _round(sum(self._recent) / len(self._recent)),
                     "armed_roc_auc": _round(self._detector._x_mean.get()), "frauds": self._frauds})
        self._rearm()
        return detection

    def _rearm(self) -> None:
        self._detector = self._new_detector()
        self._frauds = 0
        self._first_position = None
        self._recent.clear()

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
