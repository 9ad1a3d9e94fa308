"""The Prometheus text exposition of the operational figures that `/v1/stats` reports.

Metric names follow Prometheus conventions: a `fraudlog_` prefix, base units in the name (`_seconds`),
`_total` on counters (values that only grow: the log is append-only), plain gauges for levels. Latency
percentiles come from a sample of the latest predictions, not from every observation since start, so
they are gauges with a `quantile` label rather than a summary (which would promise a cumulative _count
and _sum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from service.views.models import ModelDescription

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"

Sample = tuple[dict[str, str], float | int | None]


@dataclass
class _Exposition:
    lines: list[str] = field(default_factory=list)

    def family(self, name: str, kind: str, help_text: str, samples: list[Sample]) -> None:
        """One metric family; samples whose value is unknown (None) are left out, not reported as 0."""
        self.lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if value is None:
                continue
            label_text = ",".join(f'{key}="{_escape_label(str(val))}"' for key, val in labels.items())
            self.lines.append(f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_prometheus(stats: dict[str, Any], descriptions: dict[int, ModelDescription] | None = None) -> str:
    out = _Exposition()
    out.family("fraudlog_transactions_total", "counter", "Transaction events in the log.", [({}, stats["events"])])
    out.family("fraudlog_labels_total", "counter", "Label events in the log (corrections included).",
               [({}, stats["labels"])])
    out.family("fraudlog_transactions_scored_total", "counter", "Transactions with a champion prediction.",
               [({}, stats["scored"])])
    backlog = stats["backlog"]
    out.family("fraudlog_backlog_transactions", "gauge",
               "Transactions that a champion should score and that have no champion prediction yet.",
               [({}, backlog["count"])])
    out.family("fraudlog_backlog_oldest_age_seconds", "gauge",
               "Seconds since the oldest unscored transaction was recorded (0 without a backlog).",
               [({}, backlog["oldest_age_seconds"] or 0.0)])
    out.family("fraudlog_unassigned_transactions", "gauge",
               "Transactions recorded before any champion was promoted (never scored).",
               [({}, backlog.get("unassigned", 0))])
    _latency(out, stats["latency_seconds"])
    out.family("fraudlog_throughput_transactions_per_second", "gauge",
               "Transactions per second over the last minute, by stage (ingest: recorded, scoring: scored).",
               [({"stage": stage}, value) for stage, value in sorted(stats["throughput_per_second"].items())])
    alerts = stats["alerts"]
    out.family("fraudlog_alerts", "gauge", "Alerts in the outbox by delivery status.",
               [({"status": status}, count) for status, count in sorted(alerts.items())])
    out.family("fraudlog_alerts_created_total", "counter", "Alerts ever created (at most one per transaction).",
               [({}, sum(alerts.values()))])
    _models(out, stats["models"], descriptions or {})
    return out.text()


def _latency(out: _Exposition, latency: dict[str, dict[str, float | None]]) -> None:
    explained = {
        "event_to_prediction": "Seconds from a transaction's event time to its champion prediction",
        "recorded_to_prediction": "Seconds from a transaction being recorded to its champion prediction",
    }
    for kind, values in latency.items():
        help_text = explained.get(kind, f"Latency {kind.replace('_', ' ')}")
        out.family(f"fraudlog_{kind}_latency_seconds", "gauge",
                   f"{help_text}, percentiles over the latest predictions.",
                   [({"quantile": _quantile(point)}, value) for point, value in values.items()])


def _models(out: _Exposition, models: dict[int, dict[str, Any]], descriptions: dict[int, ModelDescription]) -> None:
    def per_version(key: str) -> list[Sample]:
        return [({"model_version": str(v)}, m[key]) for v, m in sorted(models.items())]

    out.family("fraudlog_model_info", "gauge", "Each model version's status and spec (value 1).",
               [({"model_version": str(v), "status": d.status, "spec": d.spec}, 1)
                for v, d in sorted(descriptions.items())])
    out.family("fraudlog_model_threshold", "gauge", "The score at or above which a version alerts.",
               [({"model_version": str(v)}, d.threshold) for v, d in sorted(descriptions.items())])
    out.family("fraudlog_model_predictions_total", "counter", "Predictions per model version (shadow included).",
               per_version("predictions"))
    out.family("fraudlog_model_labelled_predictions", "gauge",
               "Predictions per model version whose transaction has a label.", per_version("labels"))
    out.family("fraudlog_model_labelled_frauds", "gauge",
               "Predictions per model version whose transaction is labelled fraud.", per_version("frauds"))
    out.family("fraudlog_model_roc_auc", "gauge",
               "ROC AUC from raw scores on the labels that have arrived (absent until both classes have).",
               per_version("roc_auc"))
    out.family("fraudlog_model_alert_ratio", "gauge",
               "Share of a version's predictions at or above its threshold (0 to 1).", per_version("alert_rate"))


def _quantile(point: str) -> str:
    """`p50` -> `0.5`, `p99` -> `0.99`, `p99.9` -> `0.999`."""
    return repr(round(float(point.removeprefix("p")) / 100, 6))


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")
