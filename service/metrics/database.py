"""The collector of the figures that live in the database.

A custom `prometheus_client` collector, not metric objects updated as things happen: the events, the
predictions and the outbox are in the database, written by whichever process on whichever host, so the
database is the one place that knows the totals. Each scrape asks it (at most once a second per process,
see `fraudlog.metrics.stats_cache`), and every API process reports the same numbers: combine instances
with `max`, never `sum`.

The event-to-prediction and recorded-to-prediction latencies are histograms counted by the database
(`fraudlog.metrics.latency`): cumulative, so `rate()` and `histogram_quantile()` work as Prometheus users
expect, and the same whichever worker scored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from fraudlog.views.models import ModelDescription

LATENCY_HELP = {
    "event_to_prediction": "Seconds from a transaction's event time to its champion prediction.",
    "recorded_to_prediction": "Seconds from a transaction being recorded in the log to its champion prediction.",
}


@dataclass(frozen=True)
class DatabaseFigures:
    """One reading of the database: `fraudlog.store.stats.collect_stats`, each version's description and
    the latency histograms (`fraudlog.metrics.latency.LatencyHistograms.read`)."""

    stats: Mapping[str, Any]
    descriptions: Mapping[int, ModelDescription] = field(default_factory=dict)
    histograms: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class DatabaseCollector(Collector):
    """Yields the database's figures as metric families each time the registry is collected."""

    def __init__(self, read: Callable[[], DatabaseFigures]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        return iter(database_families(self._read()))


def database_families(figures: DatabaseFigures) -> list[Metric]:
    """The metric families of one reading; values that are unknown (None) are left out, never reported as 0."""
    stats = figures.stats
    backlog = stats["backlog"]
    families: list[Metric] = [
        _counter("fraudlog_transactions", "Transaction events in the log.", stats["events"]),
        _counter("fraudlog_labels", "Label events in the log (corrections included).", stats["labels"]),
        _counter("fraudlog_transactions_scored", "Transactions with a champion prediction.", stats["scored"]),
        _gauge("fraudlog_backlog_transactions",
               "Transactions that a champion should score and that have no champion prediction yet.",
               backlog["count"]),
        _gauge("fraudlog_backlog_oldest_age_seconds",
               "Seconds since the oldest unscored transaction was recorded (0 without a backlog).",
               backlog["oldest_age_seconds"] or 0.0),
        _gauge("fraudlog_unassigned_transactions",
               "Transactions recorded before any champion was promoted (never scored).", backlog.get("unassigned", 0)),
        _gauge("fraudlog_scoring_failures",
               "Transactions their champion could not score after bounded attempts (recorded scoring failures, "
               "out of the backlog until `fraudlog rescore`).", backlog.get("failed", 0)),
    ]
    families.extend(_latency(kind, histogram) for kind, histogram in figures.histograms.items())
    throughput = GaugeMetricFamily(
        "fraudlog_throughput_transactions_per_second",
        "Transactions per second over the last minute, by stage (ingest: recorded, scoring: scored).",
        labels=["stage"])
    for stage, rate in sorted(stats["throughput_per_second"].items()):
        throughput.add_metric([stage], rate)
    alerts = GaugeMetricFamily("fraudlog_alerts", "Alerts in the outbox by delivery status.", labels=["status"])
    for status, count in sorted(stats["alerts"].items()):
        alerts.add_metric([status], count)
    coverage = stats.get("alert_coverage")
    if coverage is not None:
        families += [_counter("fraudlog_alert_transactions_covered",
                              "Transactions over the threshold, each covered by one alert.",
                              coverage["covered_transactions"]),
                     _counter("fraudlog_alert_updates_created",
                              "Updates of alerts (transactions that joined an alert already taken for delivery).",
                              coverage["updates"])]
    families += [throughput, alerts,
                 _counter("fraudlog_alerts_created", "Alerts ever created (at most one per card per window).",
                          sum(stats["alerts"].values())),
                 _gauge("fraudlog_alerts_oldest_pending_age_seconds",
                        "Seconds since the oldest alert still awaiting delivery was made (0 when none waits).",
                        stats.get("alerts_oldest_pending_age_seconds", 0.0))]
    families.extend(_models(stats["models"], figures.descriptions))
    return families


def _latency(kind: str, histogram: Mapping[str, Any]) -> HistogramMetricFamily:
    buckets = [(_bound(bound), count) for bound, count in histogram["buckets"]]
    buckets.append(("+Inf", histogram["count"]))
    return HistogramMetricFamily(f"fraudlog_{kind}_latency_seconds", LATENCY_HELP[kind], buckets=buckets,
                                 sum_value=histogram["sum"])


def _models(models: Mapping[int, Mapping[str, Any]],
            descriptions: Mapping[int, ModelDescription]) -> Iterator[Metric]:
    info = GaugeMetricFamily("fraudlog_model_info", "Each model version's status and spec (value 1).",
                             labels=["model_version", "status", "spec"])
    threshold = GaugeMetricFamily("fraudlog_model_threshold", "The score at or above which a version alerts.",
                                  labels=["model_version"])
    target = GaugeMetricFamily("fraudlog_model_target_alert_ratio",
                               "The alert rate a version's threshold was calibrated for (0 to 1).",
                               labels=["model_version"])
    for version, description in sorted(descriptions.items()):
        info.add_metric([str(version), description.status, description.spec], 1)
        threshold.add_metric([str(version)], description.threshold)
        if description.target_alert_rate is not None:
            target.add_metric([str(version)], description.target_alert_rate)
    yield from (info, threshold, target)
    per_version = [
        (CounterMetricFamily, "fraudlog_model_predictions", "Predictions per model version (shadow included).",
         lambda m: m["predictions"]),
        (CounterMetricFamily, "fraudlog_model_predictions_above_threshold",
         "Predictions per model version scored at or above its threshold (a challenger's would-be alerts).",
         _above_threshold),
        (GaugeMetricFamily, "fraudlog_model_labelled_predictions",
         "Predictions per model version whose transaction has a label.", lambda m: m["labels"]),
        (GaugeMetricFamily, "fraudlog_model_labelled_frauds",
         "Predictions per model version whose transaction is labelled fraud.", lambda m: m["frauds"]),
        (GaugeMetricFamily, "fraudlog_model_roc_auc",
         "ROC AUC from raw scores on the labels that have arrived (absent until both classes have).",
         lambda m: m["roc_auc"]),
        (GaugeMetricFamily, "fraudlog_model_alert_ratio",
         "Share of a version's predictions at or above its threshold (0 to 1).", lambda m: m["alert_rate"]),
    ]
    for kind, name, help_text, pick in per_version:
        family = kind(name, help_text, labels=["model_version"])
        for version, model in sorted(models.items()):
            figure = pick(model)
            if figure is not None:
                family.add_metric([str(version)], figure)
        yield family


def _above_threshold(model: Mapping[str, Any]) -> int | None:
    """The count behind the alert rate (rate x predictions gives it back exactly)."""
    rate = model["alert_rate"]
    return None if rate is None else round(rate * model["predictions"])


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _bound(bound: float) -> str:
    return repr(float(bound))
