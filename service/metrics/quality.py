"""Prometheus gauges of each live version's quality on its current window (docs/quality.md).

The current window is a version's newest `fraudlog.views.quality.CURRENT_WINDOW` predictions, judged on the
labels that have arrived: the same figures as one bucket of `GET /v1/models/{v}/quality?every=N`, so an alert
rule on `fraudlog_quality_roc_auc` reads what the dashboard plots. Labels come late, so the window's newest
predictions are mostly unlabelled: `fraudlog_quality_labelled_ratio` says how much of it the figures stand
on. Like every database figure, each API process reports the same values: combine instances with `max`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fraudlog.models.registry import ModelRegistry
from fraudlog.responses.quality import QualityBucket
from fraudlog.views.quality import current_window, live_versions

# The window spans thousands of predictions and its labels arrive over hours: reading it again more often
# than every 10 s per process would cost the database work and show nothing new.
QUALITY_TTL_SECONDS = 10.0

GAUGES: list[tuple[str, str, Callable[[QualityBucket], float | None]]] = [
    ("fraudlog_quality_window_predictions", "Predictions in the version's current window.", lambda b: b.scored),
    ("fraudlog_quality_labelled_ratio", "Share of the current window's predictions that have a label (0 to 1).",
     lambda b: b.labelled_share),
    ("fraudlog_quality_newest_label_age_seconds",
     "Seconds from the current window's newest label to the log's newest label.",
     lambda b: b.newest_label_age_seconds),
    ("fraudlog_quality_roc_auc", "ROC AUC on the current window's labels (absent until both classes have).",
     lambda b: b.roc_auc),
    ("fraudlog_quality_average_precision", "Average precision on the current window's labels (absent without "
                                           "a fraud).", lambda b: b.average_precision),
    ("fraudlog_quality_recall", "Share of the current window's labelled frauds at or above the threshold.",
     lambda b: b.recall),
    ("fraudlog_quality_precision", "Share of frauds among the current window's labelled predictions at or "
                                   "above the threshold.", lambda b: b.precision),
    ("fraudlog_quality_alert_ratio", "Share of the current window's predictions at or above the threshold, to "
                                     "compare with fraudlog_model_target_alert_ratio.", lambda b: b.alert_rate),
    ("fraudlog_quality_brier", "Brier score on the current window's labels (0 is perfect).", lambda b: b.brier),
]


class QualityCollector(Collector):
    """Yields the quality gauges of every live version each time the registry is collected."""

    def __init__(self, read: Callable[[], Mapping[int, QualityBucket]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        return iter(quality_families(self._read()))


def quality_families(windows: Mapping[int, QualityBucket]) -> list[Metric]:
    """One family per figure, one sample per live version; an unknown figure (None) is left out, never 0."""
    families: list[Metric] = []
    for name, help_text, pick in GAUGES:
        family = GaugeMetricFamily(name, help_text, labels=["model_version"])
        for version, window in sorted(windows.items()):
            value = pick(window)
            if value is not None:
                family.add_metric([str(version)], value)
        families.append(family)
    return families


class CurrentWindows:
    """The live versions' current windows, read at most once per `ttl` seconds (whichever thread scrapes)."""

    def __init__(self, registry: ModelRegistry, ttl: float = QUALITY_TTL_SECONDS) -> None:
        self._registry = registry
        self._ttl = ttl
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._windows: dict[int, QualityBucket] = {}

    def __call__(self) -> dict[int, QualityBucket]:
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self._ttl:
                self._windows = {v: current_window(self._registry, v) for v in live_versions(self._registry)}
                self._read_at = now
            return dict(self._windows)
