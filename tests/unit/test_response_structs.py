"""The response Structs encode to exactly the JSON the API answered with when the bodies were plain dicts:
the same keys, the same values, nulls where there were nulls, and no key where there was none."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec

from fraudlog.api.schemas import Health, IngestReceipt, OnDemandPrediction, Readiness, RoleChanged
from fraudlog.domain.events import Receipt
from fraudlog.domain.records import (
    Explanation,
    LineageSummary,
    Reason,
    TrainingCode,
    TrainingDataLineage,
    TrainingRange,
)
from fraudlog.responses.models import Artifact, LiveMetrics, ModelDetail, ModelSummary
from fraudlog.responses.transaction import (
    LabelView,
    PredictionView,
    TransactionAlert,
    TransactionRecord,
    TransactionView,
)
from fraudlog.store.outbox import AlertPage, AlertRecord
from fraudlog.views.alerts import alert_item, alerts_page
from fraudlog.views.stats import stats_view

CREATED = datetime(2026, 11, 28, 3, 0, 0, 123000, tzinfo=UTC)


def as_json(value: Any) -> Any:
    return json.loads(msgspec.json.encode(value))


def alert_record(**overrides: Any) -> AlertRecord:
    fields: dict[str, Any] = {
        "alert_id": "a-1", "transaction_id": "tx-1", "card_id": None, "score": 0.9, "threshold": 0.5,
        "model_version": 3, "created_at": CREATED, "status": "pending", "attempts": 0, "sent_at": None,
        "last_error": None, "payload": {}}
    return AlertRecord(**{**fields, **overrides})


def test_an_alert_page_keeps_every_field_and_its_nulls() -> None:
    sent = alert_record(alert_id="a-2", card_id="card-7", status="sent", attempts=2, sent_at=CREATED,
                        last_error="timeout")
    page = alerts_page(AlertPage([alert_record(), sent], None))
    assert as_json(page) == {
        "items": [
            {"alert_id": "a-1", "transaction_id": "tx-1", "card_id": None, "score": 0.9, "threshold": 0.5,
             "model_version": 3, "created_at": "2026-11-28T03:00:00.123000Z", "status": "pending", "attempts": 0,
             "sent_at": None, "last_error": None, "reasons": None, "type": "fraud_alert", "update_of": None,
             "transactions": None},
            {"alert_id": "a-2", "transaction_id": "tx-1", "card_id": "card-7", "score": 0.9, "threshold": 0.5,
             "model_version": 3, "created_at": "2026-11-28T03:00:00.123000Z", "status": "sent", "attempts": 2,
             "sent_at": "2026-11-28T03:00:00.123000Z", "last_error": "timeout", "reasons": None,
             "type": "fraud_alert", "update_of": None, "transactions": None}],
        "next_cursor": None}


def test_the_cli_prints_the_same_alert_document_as_the_api() -> None:
    record = alert_record()
    assert msgspec.to_builtins(alert_item(record)) == as_json(alerts_page(AlertPage([record], "c")).items[0])


def test_a_transaction_view_without_audit_has_no_audit_keys() -> None:
    view = TransactionView(
        transaction=TransactionRecord(transaction_id="tx-1", card_id=None, event_time="2026-11-28T03:00:00.000000Z",
                                      amount=1.5, attributes={"V1": -1.0}, position=4,
                                      recorded_at="2026-11-28T03:00:01.000000Z"),
        predictions=[PredictionView(model_version=1, champion=True, score=0.25, threshold=0.5, features={"f": 1.0},
                                    scored_at="2026-11-28T03:00:02.000000Z")],
        label=None, alert=None)
    assert as_json(view) == {
        "transaction": {"transaction_id": "tx-1", "card_id": None, "event_time": "2026-11-28T03:00:00.000000Z",
                        "amount": 1.5, "attributes": {"V1": -1.0}, "position": 4,
                        "recorded_at": "2026-11-28T03:00:01.000000Z"},
        "predictions": [{"model_version": 1, "champion": True, "score": 0.25, "threshold": 0.5,
                         "features": {"f": 1.0}, "scored_at": "2026-11-28T03:00:02.000000Z"}],
        "label": None, "alert": None, "scoring_failures": []}


def test_an_audited_prediction_of_an_unregistered_version_shows_a_null_lineage() -> None:
    prediction = PredictionView(model_version=9, champion=False, score=0.25, threshold=0.5, features={},
                                scored_at="t", lineage=None, reproduced=False, replay_differences=["unexpected"])
    assert as_json(prediction) == {"model_version": 9, "champion": False, "score": 0.25, "threshold": 0.5,
                                   "features": {}, "scored_at": "t", "lineage": None, "reproduced": False,
                                   "replay_differences": ["unexpected"]}


def test_a_lineage_summary_label_and_alert_of_a_transaction_keep_their_fields() -> None:
    lineage = LineageSummary(version=2, parent_version=None, model_spec="hst",
                             training_range=TrainingRange(source="log", first_position=1, last_position=9),
                             artifact_sha256="ab", created_at="t")
    assert as_json(lineage) == {"version": 2, "parent_version": None, "model_spec": "hst",
                                "training_range": {"source": "log", "first_position": 1, "last_position": 9},
                                "artifact_sha256": "ab", "created_at": "t"}
    label = LabelView(is_fraud=True, labeled_at="t", position=7, corrections=1)
    assert as_json(label) == {"is_fraud": True, "labeled_at": "t", "position": 7, "corrections": 1, "source": "api"}
    alert = TransactionAlert(alert_id="a", status="failed", score=0.9, threshold=0.5, model_version=1,
                             created_at="t", attempts=5, sent_at=None, last_error="refused")
    assert as_json(alert) == {"alert_id": "a", "status": "failed", "score": 0.9, "threshold": 0.5,
                              "model_version": 1, "created_at": "t", "attempts": 5, "sent_at": None,
                              "last_error": "refused"}


def test_model_summaries_and_details_keep_their_fields_and_nulls() -> None:
    live = LiveMetrics(predictions=0, alert_rate=None, labels=0, frauds=0, roc_auc=None)
    summary = ModelSummary(version=1, status="challenger", parent_version=None, created_at="t",
                           model_spec={"name": "hst", "n_trees": 5}, threshold=0.5, metrics={"n_events": 3},
                           live_metrics=live)
    assert as_json(summary) == {
        "version": 1, "status": "challenger", "parent_version": None, "created_at": "t",
        "model_spec": {"name": "hst", "n_trees": 5}, "threshold": 0.5, "metrics": {"n_events": 3},
        "live_metrics": {"predictions": 0, "alert_rate": None, "labels": 0, "frauds": 0, "roc_auc": None},
        "target_alert_rate": None, "last_decision": None, "trigger": None, "traits": ""}
    detail = ModelDetail(version=2, parent_version=1, created_at="t", status="champion", model_spec={"name": "hst"},
                         training_code=TrainingCode(module="m"),
                         training_data=TrainingDataLineage(source="log"), environment={"python": "3"},
                         artifact=Artifact(size=10, sha256="ab", hmac_verified=True), threshold=0.5, metrics={},
                         watermark=40)
    assert as_json(detail) == {
        "version": 2, "parent_version": 1, "created_at": "t", "status": "champion", "model_spec": {"name": "hst"},
        "training_code": {"module": "m", "function": None, "package_version": None, "git_commit": None},
        "training_data": {"source": "log", "first_position": None, "last_position": None, "label_cut": None,
                          "event_count": None, "label_count": None, "fraud_count": None, "sha256": None,
                          "window": None}, "environment": {"python": "3"},
        "artifact": {"size": 10, "sha256": "ab", "hmac_verified": True}, "threshold": 0.5, "metrics": {},
        "watermark": 40, "decisions": [], "trigger": None, "explanation": None}


def test_stats_encode_to_the_figures_the_store_collected() -> None:
    figures = {
        "events": 10, "labels": 4, "scored": 8,
        "backlog": {"count": 2, "oldest_age_seconds": None, "unassigned": 0, "failed": 1},
        "latency_seconds": {"event_to_prediction": {"p50": 0.5, "p95": 1.5, "p99": None},
                            "recorded_to_prediction": {"p50": None, "p95": None, "p99": None}},
        "throughput_per_second": {"ingest": 0.25, "scoring": 0.0},
        "alerts": {"pending": 1, "sent": 0, "failed": 0},
        "models": {1: {"predictions": 8, "alert_rate": 0.125, "labels": 4, "frauds": 1, "roc_auc": None}},
        "generated_at": "2026-11-28T03:00:00.123000Z",
    }
    assert as_json(stats_view(figures)) == {**figures, "models": {"1": figures["models"][1]}}


def test_receipts_and_small_bodies_keep_their_fields() -> None:
    receipts = msgspec.convert([Receipt("tx-1", 3, "duplicate")], list[IngestReceipt], from_attributes=True)
    assert as_json(receipts) == [{"transaction_id": "tx-1", "position": 3, "status": "duplicate"}]
    assert as_json(RoleChanged(version=2, status="retired", position=11)) == {"version": 2, "status": "retired",
                                                                            "position": 11}
    reasons = Explanation(method="logreg-exact", units="log-odds", base_value=-2.0, top_k=5, reasons=[
        Reason(feature="a", value=1.0, contribution=0.5, card_reference=None, population_reference=0.2,
               sentence="a 1 (typical: 0.2)")])
    assert as_json(OnDemandPrediction(score=0.5, is_alert=True, threshold=0.4, model_version=1, features={"a": 1.0},
                                      reasons=reasons)) \
        == {"score": 0.5, "is_alert": True, "threshold": 0.4, "model_version": 1, "features": {"a": 1.0},
            "reasons": {"method": "logreg-exact", "units": "log-odds", "base_value": -2.0, "top_k": 5, "reasons": [
                {"feature": "a", "value": 1.0, "contribution": 0.5, "card_reference": None,
                 "population_reference": 0.2, "sentence": "a 1 (typical: 0.2)"}]}}
    assert as_json(Health(status="ok", version="1.2.3")) == {"status": "ok", "version": "1.2.3"}
    assert as_json(Readiness(status="unavailable", checks={"database": "unreachable: OperationalError"})) == {
        "status": "unavailable", "checks": {"database": "unreachable: OperationalError"}}
