"""Quality over time (docs/quality.md), on SQLite and Postgres: the figures of a known stream checked by hand,
completeness as labels arrive late, the same report after a rebuild from the log, the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from fraudlog.api.dependencies import services_of
from fraudlog.cli import main
from fraudlog.config import ApiKey, Settings
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.rebuild import rebuild
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.predictions import insert_predictions
from fraudlog.views.quality import current_window, quality_report
from tests.support.api import api_client
from tests.support.data import label_event
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.workload import build_workload

T = datetime(2026, 12, 1, tzinfo=UTC)
THRESHOLD = 0.9
# (minutes after T, score, verdict): hour 0 is the bucket checked by hand, hour 1 has no prediction, hour 2 only
# legitimate labels, hour 3 no label until `label_late` gives its first one.
STREAM = [(0, 0.95, True), (10, 0.92, False), (20, 0.60, True), (30, 0.30, False),
          (130, 0.40, False), (140, 0.20, False),
          (190, 0.97, None), (200, 0.50, None), (210, 0.10, None)]
HOUR_0 = {"scored": 4, "labelled": 4, "frauds": 2, "alerts": 2, "labelled_share": 1.0, "roc_auc": 3 / 4,
          "average_precision": 1 / 2 * 1 + 1 / 2 * 2 / 3, "precision": 1 / 2, "recall": 1 / 2, "alert_rate": 1 / 2,
          "brier": (0.05**2 + 0.92**2 + 0.40**2 + 0.30**2) / 4}


def known_stream(engine: Engine) -> tuple[int, list[str]]:
    """A version and predictions of it with the scores of `STREAM`, served at threshold 0.9, as a scorer would
    store them; labels for hours 0 and 2 arrive one hour after their bucket. Returns the version and the ids."""
    version = install_version(engine)  # its row only: the scores below are chosen, not computed
    rows = synthetic_rows(len(STREAM), seed=21)
    bodies = [{**body, "transaction_id": f"q-{i}", "event_time": (T + timedelta(minutes=m)).isoformat()}
              for i, ((body, _), (m, _, _)) in enumerate(zip(rows, STREAM, strict=True))]
    positions = append_transactions(engine, [(body, False) for body in bodies])
    with engine.begin() as conn:
        insert_predictions(conn, [
            {"transaction_id": body["transaction_id"], "model_version": version, "position": position,
             "champion": True, "score": score, "threshold": THRESHOLD, "features": {},
             "event_time": T + timedelta(minutes=minutes), "recorded_at": T, "scored_at": T,
             "environment_drift": None}
            for body, position, (minutes, score, _) in zip(bodies, positions, STREAM, strict=True)])
    for hour in (0, 2):
        label(engine, [(body["transaction_id"], verdict) for body, (m, _, verdict) in zip(bodies, STREAM, strict=True)
                       if m // 60 == hour], T + timedelta(hours=hour + 1, minutes=30))
    return version, [body["transaction_id"] for body in bodies]


def label(engine: Engine, verdicts: list[tuple[str, bool | None]], labeled_at: datetime) -> None:
    EventLog(engine).append_labels([[label_event(tx, bool(verdict), labeled_at) for tx, verdict in verdicts]],
                                   labeled_at)


def figures(bucket: Any) -> dict[str, Any]:
    document = msgspec.to_builtins(bucket)
    return {name: document[name] for name in HOUR_0}


def test_each_bucket_has_the_figures_computed_by_hand(engine: Engine) -> None:
    version, _ = known_stream(engine)
    report = quality_report(ModelRegistry(engine, SECRET), version, bucket="1h")
    hours = report.buckets[-4:]
    assert [b.start for b in hours] == [f"2026-12-01T0{h}:00:00.000000Z" for h in range(4)]
    assert figures(hours[0]) == pytest.approx(HOUR_0)
    assert hours[0].target_alert_rate == report.target_alert_rate == 0.05
    assert hours[1].scored == 0 and hours[1].roc_auc is None and hours[1].null_because
    assert hours[2].roc_auc is None and "needs a fraud too" in hours[2].null_because["roc_auc"]
    assert hours[2].precision is None and hours[2].brier == pytest.approx((0.40**2 + 0.20**2) / 2)
    by_count = quality_report(ModelRegistry(engine, SECRET), version, every=4)
    assert [b.scored for b in by_count.buckets] == [4, 4, 1]
    assert figures(by_count.buckets[0]) == pytest.approx(HOUR_0)


def test_a_recent_bucket_is_incomplete_until_its_labels_arrive(engine: Engine) -> None:
    version, ids = known_stream(engine)
    registry = ModelRegistry(engine, SECRET)
    before = quality_report(registry, version, bucket="1h")
    newest = before.buckets[-1]
    assert (newest.scored, newest.labelled, newest.labelled_share, newest.newest_label_at) == (3, 0, 0.0, None)
    assert "no label has arrived yet for its 3 predictions" in newest.null_because["roc_auc"]
    assert before.as_of.labeled_at == "2026-12-01T03:30:00.000000Z"
    assert before.buckets[-4].newest_label_age_seconds == 2 * 3600  # hour 0's labels came 2 h before hour 2's

    label(engine, [(ids[6], True)], T + timedelta(hours=6))  # a chargeback, late
    after = quality_report(registry, version, bucket="1h")
    newest = after.buckets[-1]
    assert (newest.labelled, newest.frauds, newest.newest_label_age_seconds) == (1, 1, 0.0)
    assert newest.labelled_share == pytest.approx(1 / 3)
    assert newest.recall == 1.0 and "needs a legitimate one too" in newest.null_because["roc_auc"]
    assert after.buckets[-4].newest_label_age_seconds == 4.5 * 3600  # measured against the log's newest label
    assert figures(after.buckets[-4]) == figures(before.buckets[-4])  # older buckets did not move


@pytest.mark.slow
def test_the_report_is_a_function_of_the_log_the_same_after_a_rebuild(engine: Engine, tmp_path: Path) -> None:
    build_workload(engine)
    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuild(engine, target_url, SECRET)
    target = create_engine(target_url)
    try:
        versions = [v.version for v in ModelRegistry(engine, SECRET).list()]
        judged = 0
        for version in versions:
            for options in ({"bucket": "1h"}, {"bucket": "1d"}, {"every": 150}):
                original = quality_report(ModelRegistry(engine, SECRET), version, **options)
                assert quality_report(ModelRegistry(target, SECRET), version, **options) == original, (version, options)
                judged += sum(b.roc_auc is not None for b in original.buckets)
        assert len(versions) >= 3 and judged > 0  # versions scored traffic and buckets had both classes
    finally:
        target.dispose()


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient[Any]]:
    with api_client(Settings(database_url=database_url, secret_key=SECRET, alert_sink="memory://")) as client:
        yield client


def test_the_endpoint_answers_the_report_and_problems_for_bad_input(client: TestClient[Any]) -> None:
    engine = services_of(client.app).engine
    version, _ = known_stream(engine)
    answer = client.get(f"/v1/models/{version}/quality", params={"bucket": "1h", "limit": 2})
    assert answer.status_code == 200
    assert answer.json() == msgspec.to_builtins(quality_report(ModelRegistry(engine, SECRET), version, bucket="1h",
                                                               limit=2))
    assert answer.json()["earlier_buckets"] == 2 and len(answer.json()["buckets"]) == 2
    problems = {"/v1/models/99/quality": (404, "unknown-model-version"),
                f"/v1/models/{version}/quality?bucket=1y": (400, "invalid-parameter"),
                f"/v1/models/{version}/quality?every=0": (400, "invalid-parameter"),
                f"/v1/models/{version}/quality?bucket=400d": (422, "invalid-query"),
                f"/v1/models/{version}/quality?bucket=1h&every=10": (422, "invalid-query")}
    for path, (status, kind) in problems.items():
        response = client.get(path)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("/" + kind), (path, response.json())


def test_the_endpoint_is_documented_with_its_response_schema(client: TestClient[Any]) -> None:
    document = client.get("/schema/openapi.json").json()
    operation = document["paths"]["/v1/models/{version}/quality"]["get"]
    assert operation["operationId"] == "getModelQuality"
    assert {"200", "400", "404", "422"} <= set(operation["responses"])
    bucket = document["components"]["schemas"]["QualityBucket"]["properties"]
    assert {"labelled_share", "newest_label_age_seconds", "roc_auc", "average_precision", "brier",
            "null_because"} <= set(bucket)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())


def test_the_command_prints_the_report_as_a_table_or_json(engine: Engine, cli_env: None,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    version, _ = known_stream(engine)
    assert main(["models", "quality", str(version), "--bucket", "1h", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == msgspec.to_builtins(
        quality_report(ModelRegistry(engine, SECRET), version, bucket="1h"))
    assert main(["models", "quality", str(version), "--every", "4"]) == 0
    table = capsys.readouterr().out
    assert "0.7500" in table and "0.8333" in table and "4 (100%)" in table and "0 (0%)" in table


def test_the_command_fails_in_one_line_on_bad_input(engine: Engine, cli_env: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    install_version(engine)
    for argv, message in ((["models", "quality", "99"], "model version 99 does not exist"),
                          (["models", "quality", "1", "--bucket", "3q"], "'3q' is not a bucket width"),
                          (["models", "quality", "1", "--every", "0"], "every must be at least 1")):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as usage:
        main(["models", "quality", "1", "--bucket", "1h", "--every", "3"])
    assert usage.value.code == 2


def test_metrics_report_each_live_versions_current_window(client: TestClient[Any]) -> None:
    engine = services_of(client.app).engine
    version, _ = known_stream(engine)
    families = {f.name: f.samples for f in text_string_to_metric_families(client.get("/metrics").text)}

    def gauge(name: str) -> float:
        [sample] = [s for s in families[name] if s.labels == {"model_version": str(version)}]
        return float(sample.value)

    # The window holds all nine predictions, six labelled: frauds 0.95 and 0.60 against legitimate 0.92, 0.30,
    # 0.40 and 0.20, where 0.60 ranks below 0.92 only: 7 of 8 pairs right.
    assert gauge("fraudlog_quality_window_predictions") == 9
    assert gauge("fraudlog_quality_labelled_ratio") == pytest.approx(6 / 9)
    assert gauge("fraudlog_quality_roc_auc") == pytest.approx(7 / 8)
    assert gauge("fraudlog_quality_alert_ratio") == pytest.approx(3 / 9)
    assert gauge("fraudlog_quality_recall") == pytest.approx(1 / 2)
    window = current_window(ModelRegistry(engine, SECRET), version)
    assert gauge("fraudlog_quality_brier") == pytest.approx(window.brier)


def test_the_endpoint_needs_the_analyst_role(sqlite_url: str) -> None:
    keys = (ApiKey("feeder", "ingest", "k-ingest"), ApiKey("viewer", "analyst", "k-analyst"))
    settings = Settings(database_url=sqlite_url, secret_key=SECRET, alert_sink="memory://", api_keys=keys)
    with api_client(settings) as client:
        install_version(services_of(client.app).engine)
        statuses = [client.get("/v1/models/1/quality", headers=headers).status_code
                    for headers in ({}, {"Authorization": "Bearer k-ingest"}, {"Authorization": "Bearer k-analyst"})]
    assert statuses == [401, 403, 200]
