"""`/v1/stats` (JSON) and `/metrics` (Prometheus text): the same figures, read from the database."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from service.api.auth import ANALYST, require
from service.store.stats import collect_stats

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@get("/v1/stats", operation_id="getStats", tags=["operations"], guards=[require(ANALYST)], summary="Backlog, latency, throughput, alerts, "
     "ROC AUC per model version", sync_to_thread=True)
def stats(state: State) -> dict[str, Any]:
    return collect_stats(state.engine)


@get("/metrics", operation_id="getMetrics", tags=["operations"], guards=[require(ANALYST)], summary="The same figures for Prometheus",
     sync_to_thread=True, media_type=PROMETHEUS_TEXT)
def metrics(state: State) -> Response[str]:
    return Response(render_prometheus(collect_stats(state.engine)), media_type=PROMETHEUS_TEXT)


def render_prometheus(stats: dict[str, Any]) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float | None]]) -> None:
        lines.append(f"# HELP fraudlog_{name} {help_text}")
        lines.append(f"# TYPE fraudlog_{name} {kind}")
        for labels, value in samples:
            if value is None:
                continue
            label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"fraudlog_{name}{{{label_text}}} {value}" if label_text else f"fraudlog_{name} {value}")

    metric("events_total", "counter", "Transaction events in the log.", [({}, stats["events"])])
    metric("labels_total", "counter", "Label events in the log.", [({}, stats["labels"])])
    metric("scored_total", "counter", "Transactions with a champion prediction.", [({}, stats["scored"])])
    metric("backlog_events", "gauge", "Scorable transactions without a champion prediction.",
           [({}, stats["backlog"]["count"])])
    metric("backlog_oldest_age_seconds", "gauge", "Age of the oldest unscored transaction.",
           [({}, stats["backlog"]["oldest_age_seconds"] or 0.0)])
    for kind, values in stats["latency_seconds"].items():
        metric(f"{kind}_latency_seconds", "gauge",
               f"Latency {kind.replace('_', ' ')} over the latest predictions, by quantile.",
               [({"quantile": str(int(q[1:]) / 100)}, v) for q, v in values.items()])
    metric("throughput_per_second", "gauge", "Events per second over the last minute.",
           [({"stage": stage}, value) for stage, value in stats["throughput_per_second"].items()])
    metric("alerts", "gauge", "Alerts in the outbox by status.",
           [({"status": status}, count) for status, count in sorted(stats["alerts"].items())])
    models = stats["models"]
    metric("model_predictions_total", "counter", "Predictions per model version.",
           [({"model_version": str(v)}, m["predictions"]) for v, m in models.items()])
    metric("model_labels", "gauge", "Labelled predictions per model version.",
           [({"model_version": str(v)}, m["labels"]) for v, m in models.items()])
    metric("model_roc_auc", "gauge", "ROC AUC from raw scores on the labels that have arrived.",
           [({"model_version": str(v)}, m["roc_auc"]) for v, m in models.items()])
    return "\n".join(lines) + "\n"
