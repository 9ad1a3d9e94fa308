"""`/metrics`: Prometheus text that the reference parser reads, with the same figures as `/v1/stats`, latency
histograms counted by the database, and the API's request histogram."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from fraudlog.config import ObservabilitySettings, Settings
from fraudlog.domain.assignment import CHALLENGER
from fraudlog.lifecycle.roles import assign_role
from fraudlog.metrics.database import DatabaseFigures, database_families
from fraudlog.metrics.latency import LatencyHistograms
from fraudlog.metrics.quality import GAUGES as QUALITY_GAUGES
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from fraudlog.store.stats import LATENCY_BUCKETS
from fraudlog.views.models import ModelDescription
from tests.support.api import api_client
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows

GRAFANA_DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "fraudlog-dashboard.json"
ALERTING_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
# Registered by the prediction feed (issue 14) in prometheus_client's default registry, not by this fixture.
FEED_METRICS = {"fraudlog_stream_consumers", "fraudlog_stream_consumers_cut_off_total"}
LABELLED = 300
UNSCORED = 25
HISTORY = 400  # the labelled transactions `install_version` imports, before any champion: never scored

FAMILIES = {  # name as the parser reports it (counters lose `_total`), type, label names of its samples
    "fraudlog_transactions": ("counter", set()),
    "fraudlog_labels": ("counter", set()),
    "fraudlog_transactions_scored": ("counter", set()),
    "fraudlog_backlog_transactions": ("gauge", set()),
    "fraudlog_backlog_oldest_age_seconds": ("gauge", set()),
    "fraudlog_unassigned_transactions": ("gauge", set()),
    "fraudlog_scoring_failures": ("gauge", set()),
    "fraudlog_event_to_prediction_latency_seconds": ("histogram", {"le"}),
    "fraudlog_recorded_to_prediction_latency_seconds": ("histogram", {"le"}),
    "fraudlog_http_request_duration_seconds": ("histogram", {"method", "route", "status_code", "le"}),
    "fraudlog_throughput_transactions_per_second": ("gauge", {"stage"}),
    "fraudlog_alerts": ("gauge", {"status"}),
    "fraudlog_alerts_created": ("counter", set()),
    "fraudlog_alert_transactions_covered": ("counter", set()),
    "fraudlog_alert_updates_created": ("counter", set()),
    "fraudlog_alerts_oldest_pending_age_seconds": ("gauge", set()),
    "fraudlog_stream_consumers": ("gauge", set()),  # the prediction feed's, in the default registry
    "fraudlog_stream_consumers_cut_off": ("counter", set()),
    "fraudlog_model_info": ("gauge", {"model_version", "status", "spec"}),
    "fraudlog_model_threshold": ("gauge", {"model_version"}),
    "fraudlog_model_target_alert_ratio": ("gauge", {"model_version"}),
    "fraudlog_model_predictions": ("counter", {"model_version"}),
    "fraudlog_model_predictions_above_threshold": ("counter", {"model_version"}),
    "fraudlog_model_labelled_predictions": ("gauge", {"model_version"}),
    "fraudlog_model_labelled_frauds": ("gauge", {"model_version"}),
    "fraudlog_model_roc_auc": ("gauge", {"model_version"}),
    "fraudlog_model_alert_ratio": ("gauge", {"model_version"}),
    **{name: ("gauge", {"model_version"}) for name, _, _ in QUALITY_GAUGES},  # each live version's current window
}


@pytest.fixture
def figures(database_url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """A champion and a challenger that scored LABELLED labelled transactions; UNSCORED more wait unscored."""
    engine = create_engine(database_url)
    champion = install_version(engine)
    challenger = install_version(engine, model="logreg", promote=False)
    assign_role(ModelRegistry(engine, SECRET), challenger, CHALLENGER)
    assert champion == 1 and challenger == 2
    rows = synthetic_rows(LABELLED + UNSCORED, seed=3)  # a seed with frauds among the first rows
    settings = Settings(database_url=database_url, secret_key=SECRET, alert_sink="memory://",
                        observability=ObservabilitySettings(latency_settle=timedelta(0)))
    with api_client(settings) as client:
        scored = client.post("/v1/transactions", json=[body for body, _ in rows[:LABELLED]])
        assert scored.status_code == 202, scored.text
        Scorer(engine, ModelRegistry(engine, SECRET)).score_positions([r["position"] for r in scored.json()])
        labels = [{"transaction_id": body["transaction_id"], "is_fraud": fraud} for body, fraud in rows[:LABELLED]]
        assert client.post("/v1/labels", json=labels).status_code == 202
        assert client.post("/v1/transactions", json=[body for body, _ in rows[LABELLED:]]).status_code == 202
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        yield response.text, client.get("/v1/stats").json()
    engine.dispose()


def samples_of(text: str) -> dict[str, list[Sample]]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list[Sample], **labels: str) -> float:
    [match] = [s for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return match.value


def test_metrics_parse_with_the_expected_families_types_and_labels(figures: tuple[str, dict[str, Any]]) -> None:
    text, _ = figures
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert {name for name in families if name.startswith("fraudlog_")} == set(FAMILIES)
    for name, (kind, label_names) in FAMILIES.items():
        family = families[name]
        assert family.type == kind, name
        assert family.documentation, f"{name} has no HELP"
        assert family.samples, f"{name} has no samples"
        for sample in family.samples:
            expected = label_names if sample.name.endswith("_bucket") else label_names - {"le"}
            assert set(sample.labels) == expected, (name, sample)
            if kind == "counter":
                assert sample.name == f"{name}_total"
    # The process's own figures come from prometheus_client's default registry.
    assert families["process_resident_memory_bytes"].samples
    assert families["process_cpu_seconds"].type == "counter"


def test_the_three_latencies_are_cumulative_histograms_with_buckets(figures: tuple[str, dict[str, Any]]) -> None:
    text, stats = figures
    samples = samples_of(text)
    for name in ("fraudlog_event_to_prediction_latency_seconds", "fraudlog_recorded_to_prediction_latency_seconds",
                 "fraudlog_http_request_duration_seconds"):
        buckets = [s for s in samples[name] if s.name == f"{name}_bucket"]
        assert buckets, name
        series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        for sample in buckets:
            key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            series.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
        for key, points in series.items():
            points.sort()
            counts = [count for _, count in points]
            assert counts == sorted(counts), (name, key)  # cumulative: never smaller at a larger bound
            assert points[-1][0] == float("inf")
            count = value([s for s in samples[name] if s.name == f"{name}_count"], **dict(key))
            assert counts[-1] == count
    # The database counted every champion prediction, each in the first bucket its latency fits.
    recorded = samples["fraudlog_recorded_to_prediction_latency_seconds"]
    assert value([s for s in recorded if s.name.endswith("_count")]) == stats["scored"] == LABELLED
    bounds = {float(s.labels["le"]) for s in recorded if s.name.endswith("_bucket")}
    assert bounds == {*LATENCY_BUCKETS, float("inf")}
    # /v1/stats' p50 is the 150th of the 300 latencies: a bound below it counts fewer, one at or above it more.
    # A bound within 2 % of the p50 is left out: the two are computed apart (a CI run saw p50 0.050016 beside the
    # 0.05 bound holding 154 of 300), and what this checks is the bucketing, not the last microsecond.
    p50 = stats["latency_seconds"]["recorded_to_prediction"]["p50"]
    for sample in (s for s in recorded if s.name.endswith("_bucket")):
        bound = float(sample.labels["le"])
        if abs(bound - p50) <= 0.02 * p50:
            continue
        below = bound < p50
        assert (sample.value < LABELLED // 2) if below else (sample.value >= LABELLED // 2), (sample, p50)
    assert value([s for s in recorded if s.name.endswith("_sum")]) >= p50 * LABELLED // 2
    posted = [s for s in samples["fraudlog_http_request_duration_seconds"] if s.name.endswith("_count")
              and s.labels == {"method": "POST", "route": "/v1/transactions", "status_code": "202"}]
    assert posted and posted[0].value >= 2


def test_metrics_report_the_same_figures_as_v1_stats(figures: tuple[str, dict[str, Any]]) -> None:
    text, stats = figures
    samples = samples_of(text)
    assert stats["events"] == HISTORY + LABELLED + UNSCORED and stats["scored"] == LABELLED
    assert stats["backlog"]["unassigned"] == HISTORY
    assert value(samples["fraudlog_transactions"]) == stats["events"]
    assert value(samples["fraudlog_labels"]) == stats["labels"] == HISTORY + LABELLED
    assert value(samples["fraudlog_transactions_scored"]) == stats["scored"]
    assert value(samples["fraudlog_backlog_transactions"]) == stats["backlog"]["count"] == UNSCORED
    assert value(samples["fraudlog_backlog_oldest_age_seconds"]) >= 0
    for status, count in stats["alerts"].items():
        assert value(samples["fraudlog_alerts"], status=status) == count
    assert value(samples["fraudlog_alerts_created"]) == sum(stats["alerts"].values())
    for stage, rate in stats["throughput_per_second"].items():
        assert value(samples["fraudlog_throughput_transactions_per_second"], stage=stage) == pytest.approx(rate)
    for version, model in stats["models"].items():
        assert value(samples["fraudlog_model_predictions"], model_version=version) == model["predictions"]
        above = value(samples["fraudlog_model_predictions_above_threshold"], model_version=version)
        assert above / model["predictions"] == pytest.approx(model["alert_rate"])
        assert value(samples["fraudlog_model_labelled_predictions"], model_version=version) == model["labels"]
        assert value(samples["fraudlog_model_roc_auc"], model_version=version) == pytest.approx(model["roc_auc"])
        assert 0 < value(samples["fraudlog_model_target_alert_ratio"], model_version=version) < 1
    assert value(samples["fraudlog_model_info"], model_version="1", status="champion", spec="hst") == 1
    assert value(samples["fraudlog_model_info"], model_version="2", status="challenger", spec="logreg") == 1


def test_the_latency_histograms_count_each_settled_prediction_once_and_only_grow(database_url: str) -> None:
    engine = create_engine(database_url)
    install_version(engine)
    scorer = Scorer(engine, ModelRegistry(engine, SECRET))
    clock = [datetime.now(UTC)]
    histograms = LatencyHistograms(engine, settle=timedelta(seconds=10), now=lambda: clock[0])
    rows = synthetic_rows(40, seed=4)
    scorer.score_positions(append_transactions(engine, rows[:25]))
    assert histograms.read()["recorded_to_prediction"]["count"] == 0  # scored, not yet settled
    clock[0] = datetime.now(UTC) + timedelta(seconds=10)  # the settled cut is now: all of these are older
    first = histograms.read()
    assert first["event_to_prediction"]["count"] == first["recorded_to_prediction"]["count"] == 25
    assert histograms.read() == first  # a slice is counted once, however often Prometheus scrapes
    scorer.score_positions(append_transactions(engine, rows[25:]))
    clock[0] = datetime.now(UTC) + timedelta(seconds=10)  # the settled cut is now: all of these are older
    second = histograms.read()["recorded_to_prediction"]
    assert second["count"] == 40 and second["sum"] > first["recorded_to_prediction"]["sum"]
    assert all(n >= m for (_, n), (_, m) in zip(second["buckets"], first["recorded_to_prediction"]["buckets"],
                                                strict=True))
    engine.dispose()


def test_the_sample_grafana_dashboard_queries_only_metrics_that_exist(figures: tuple[str, dict[str, Any]]) -> None:
    text, _ = figures
    exported = {sample.name for samples in samples_of(text).values() for sample in samples}
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    queried = {name for expr in exprs for name in re.findall(r"\bfraudlog_[a-z_]+", expr)}
    assert queried and queried <= exported, queried - exported


def test_the_alerting_rules_query_only_metrics_that_exist(figures: tuple[str, dict[str, Any]]) -> None:
    text, _ = figures
    exported = {sample.name for samples in samples_of(text).values() for sample in samples}
    rules = [rule for group in yaml.safe_load(ALERTING_RULES.read_text())["groups"] for rule in group["rules"]]
    queried = {name for rule in rules for name in re.findall(r"\bfraudlog_[a-z_]+", rule["expr"])}
    assert queried and queried <= exported | FEED_METRICS, queried - exported - FEED_METRICS


def test_unknown_values_are_left_out_and_label_values_are_escaped() -> None:
    stats: dict[str, Any] = {
        "events": 3, "labels": 0, "scored": 0,
        "backlog": {"count": 3, "oldest_age_seconds": None, "unassigned": 0},
        "throughput_per_second": {"ingest": 0.05, "scoring": 0.0},
        "alerts": {"pending": 0, "sent": 0, "failed": 0},
        "models": {1: {"predictions": 0, "alert_rate": None, "labels": 0, "frauds": 0, "roc_auc": None}},
    }
    awkward = 'a "quoted"\\spec\nname'
    registry = CollectorRegistry()
    figures = DatabaseFigures(stats, {1: ModelDescription("champion", awkward, 0.5)})
    registry.register(_Fixed(figures))
    samples = samples_of(generate_latest(registry).decode())
    assert samples["fraudlog_model_roc_auc"] == [] and samples["fraudlog_model_alert_ratio"] == []
    assert samples["fraudlog_model_target_alert_ratio"] == []
    assert value(samples["fraudlog_backlog_oldest_age_seconds"]) == 0
    assert value(samples["fraudlog_model_info"], spec=awkward) == 1


class _Fixed(Collector):
    def __init__(self, figures: DatabaseFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        return iter(database_families(self.figures))
