"""Labels and quality per label source (docs/outcomes.md, "Quality per label source"), on SQLite and Postgres: the
figures of a hand-made log checked by hand (counts, effective and outranked labels, a customer's answer
overruled by a chargeback, label delays, ROC AUC per source), through the view, the API and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy.engine import Engine

from fraudlog.alerts.outcomes import record_outcome
from fraudlog.api.dependencies import services_of
from fraudlog.cli import main
from fraudlog.config import Settings
from fraudlog.domain.events import OutcomeIn
from fraudlog.domain.label_sources import LabelSource
from fraudlog.ml.quality import AsOf
from fraudlog.ml.source_quality import by_source
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.rebuild import rebuild
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.predictions import insert_predictions
from fraudlog.store.quality import scored_label_events
from fraudlog.views.source_quality import SourceQuality, source_quality_report
from tests.support.alerts import alert_on
from tests.support.api import api_client
from tests.support.data import label_event
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.workload import build_workload

T = datetime(2026, 12, 1, tzinfo=UTC)
THRESHOLD = 0.9
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# transaction -> its score; every transaction happened at T (so a label's delay is its labeled_at - T).
SCORES = {"a": 0.95, "b": 0.92, "c": 0.97, "d": 0.30, "e": 0.20, "f": 0.60, "g": 0.10, "h": 0.50}
# In log order: (transaction, source, is_fraud, delay). Customers and analysts answer the alerts on a, b and c.
LABELS: list[tuple[str, LabelSource, bool, timedelta]] = [
    ("a", "customer", False, 10 * MINUTE),  # "it was me" on a fraud: wrong ...
    ("b", "customer", False, 5 * MINUTE),
    ("c", "analyst", True, 2 * HOUR),
    ("f", "api", True, 1 * HOUR),
    ("f", "api", False, 2 * HOUR),  # the client corrects its own label: the latest of a source counts
    ("d", "import", True, DAY),
    ("e", "import", False, DAY),
    ("g", "import", False, DAY),
    ("d", "chargeback", True, 30 * DAY),  # agrees with the import it outranks
    ("a", "chargeback", True, 40 * DAY),  # ... and overruled by the chargeback, whichever came first
    ("b", "import", False, DAY),  # known last, yet outranked by the customer's answer
]
EXPECTED = {  # source: labels, frauds, effective, outranked, overruled, delay p50, delay p90 (nearest rank)
    "chargeback": (2, 2, 2, 0, 0, 30 * DAY, 40 * DAY),
    "analyst": (1, 1, 1, 0, 0, 2 * HOUR, 2 * HOUR),
    "customer": (2, 0, 1, 1, 1, 5 * MINUTE, 10 * MINUTE),
    "import": (4, 1, 2, 2, 0, DAY, DAY),
    "api": (1, 0, 1, 0, 0, 2 * HOUR, 2 * HOUR),
    # a (chargeback), b (customer), c (analyst), d (chargeback), e and g (import), f (api); h has no label
    "effective": (7, 3, 7, 0, 0, DAY, 40 * DAY),
}


def hand_made_log(engine: Engine) -> int:
    """A version and its predictions with the scores of `SCORES` at threshold 0.9, as a scorer would store them,
    and the labels of `LABELS`; returns the version."""
    version = install_version(engine)  # its row only (and its training history, labelled, which it never scored)
    bodies = [{**body, "transaction_id": f"src-{tx}", "event_time": T.isoformat()}
              for (body, _), tx in zip(synthetic_rows(len(SCORES), seed=29), SCORES, strict=True)]
    positions = dict(zip(SCORES, append_transactions(engine, [(body, False) for body in bodies]), strict=True))
    with engine.begin() as conn:
        insert_predictions(conn, [
            {"transaction_id": f"src-{tx}", "model_version": version, "position": positions[tx], "champion": True,
             "score": score, "threshold": THRESHOLD, "features": {}, "event_time": T, "recorded_at": T,
             "scored_at": T, "environment_drift": None} for tx, score in SCORES.items()])
    alerts = {tx: alert_on(engine, f"src-{tx}", positions[tx], model_version=version) for tx in ("a", "b", "c")}
    for tx, source, is_fraud, delay in LABELS:
        if source in ("customer", "analyst"):
            answer = OutcomeIn(outcome="confirmed_fraud" if is_fraud else "not_fraud", answered_by=source,
                               answered_at=T + delay)
            record_outcome(engine, alerts[tx], answer, "bank-app")
        else:
            EventLog(engine).append_labels([[label_event(f"src-{tx}", is_fraud, T + delay, source)]], T + delay)
    return version


def counts(group: SourceQuality) -> tuple[Any, ...]:
    return (group.labels, group.frauds, group.effective, group.outranked, group.overruled,
            group.delay_seconds.p50, group.delay_seconds.p90)


def expected(source: str) -> tuple[Any, ...]:
    *figures, p50, p90 = EXPECTED[source]
    return (*figures, p50.total_seconds(), p90.total_seconds())


def test_each_source_has_the_figures_computed_by_hand(engine: Engine) -> None:
    version = hand_made_log(engine)
    report = source_quality_report(ModelRegistry(engine, SECRET), version)
    assert [s.source for s in report.sources] == ["chargeback", "analyst", "customer", "import", "api"]
    for group in [*report.sources, report.effective]:
        assert counts(group) == expected(group.source), group.source
    by_source = {s.source: s for s in report.sources}
    customer = by_source["customer"]
    assert customer.effective_share == 0.5 and customer.roc_auc is None  # its two verdicts are both "not fraud"
    assert "needs a fraud too" in customer.null_because["roc_auc"]
    # import: its fraud d (0.30) above e (0.20) and g (0.10), below b (0.92): 2 pairs of 3; d is ranked second
    assert (by_source["import"].roc_auc, by_source["import"].average_precision) == pytest.approx((2 / 3, 1 / 2))
    # effective: frauds c 0.97, a 0.95, d 0.30 against b 0.92, f 0.60, e 0.20, g 0.10: 10 of 12 pairs
    effective = report.effective
    assert effective.roc_auc == pytest.approx(10 / 12)
    assert (effective.recall, effective.precision) == pytest.approx((2 / 3, 2 / 3))
    assert effective.effective_share == 1.0 and effective.source == "effective"


def test_a_customer_answer_is_effective_until_a_chargeback_outranks_it(engine: Engine) -> None:
    """The figures follow the log's label events: the same log without the chargeback on `a` has the customer's
    wrong answer effective, overruled by nothing."""
    version = hand_made_log(engine)
    with engine.connect() as conn:
        rows = scored_label_events(conn, version)
    before = [row for row in rows if (row.transaction_id, row.source) != ("src-a", "chargeback")]
    assert len(before) == len(rows) - 1
    as_of = AsOf(None, None, None)
    for log, (effective, overruled) in ((rows, (1, 1)), (before, (2, 0))):
        customer = next(s for s in by_source(log, as_of)[1] if s.source == "customer")
        assert (customer.labels, customer.effective, customer.overruled) == (2, effective, overruled)


@pytest.mark.slow
def test_the_figures_are_a_function_of_the_log_the_same_after_a_rebuild(engine: Engine, tmp_path: Path) -> None:
    workload = build_workload(engine)  # scored by real versions, with `api` labels and corrections
    streamed = [(body["transaction_id"], is_fraud) for body, is_fraud in workload.rows]
    log = EventLog(engine)
    labelled_by: list[tuple[LabelSource, list[tuple[str, bool]]]] = [
        ("customer", [(tx, False) for tx, _ in streamed[:400]]),  # "it was me" on each
        ("chargeback", [(tx, y) for tx, y in streamed[:400] if y]),
        ("import", streamed[1_100:])]
    for source, labelled in labelled_by:
        log.append_labels([[label_event(tx, y, T, source) for tx, y in labelled]], T)
    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuild(engine, target_url, SECRET)
    target = create_engine(target_url)
    try:
        reports = [(source_quality_report(ModelRegistry(engine, SECRET), record.version),
                    source_quality_report(ModelRegistry(target, SECRET), record.version))
                   for record in ModelRegistry(engine, SECRET).list()]
    finally:
        target.dispose()
    assert all(original == rebuilt for original, rebuilt in reports)
    overruled = {s.source for original, _ in reports for s in original.sources if s.overruled}
    assert {"customer", "api"} <= overruled  # chargebacks overrule customers, customers the api labels


def test_the_endpoint_answers_the_report_documented_and_404_for_an_unknown_version(database_url: str) -> None:
    with api_client(Settings(database_url=database_url, secret_key=SECRET, alert_sink="memory://")) as client:
        engine = services_of(client.app).engine
        version = hand_made_log(engine)
        answer = client.get(f"/v1/models/{version}/quality/sources")
        missing = client.get("/v1/models/99/quality/sources")
        document = client.get("/schema/openapi.json").json()
    assert answer.status_code == 200, answer.text
    assert answer.json() == msgspec.to_builtins(source_quality_report(ModelRegistry(engine, SECRET), version))
    assert missing.status_code == 404 and missing.json()["type"].endswith("/unknown-model-version")
    operation = document["paths"]["/v1/models/{version}/quality/sources"]["get"]
    assert operation["operationId"] == "getModelQualityBySource" and {"200", "404"} <= set(operation["responses"])
    group = document["components"]["schemas"]["SourceQuality"]["properties"]
    assert {"labels", "frauds", "effective", "outranked", "overruled", "effective_share", "delay_seconds",
            "roc_auc", "average_precision"} <= set(group)


def test_the_command_prints_a_table_per_source_or_json(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                       database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    version = hand_made_log(engine)
    assert main(["models", "quality", str(version), "--by-source", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == msgspec.to_builtins(
        source_quality_report(ModelRegistry(engine, SECRET), version))
    assert main(["models", "quality", str(version), "--by-source"]) == 0
    table = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if line.count("│") > 5}
    assert set(rows) == {"chargeback", "analyst", "customer", "import", "api", "effective"}
    assert "1 (1)" in rows["customer"] and "5.0 min / 10.0 min" in rows["customer"]  # outranked (overruled)
    assert "30.0 d / 40.0 d" in rows["chargeback"] and "0.8333" in rows["effective"]
    with pytest.raises(SystemExit) as usage:
        main(["models", "quality", str(version), "--by-source", "--every", "3"])
    assert usage.value.code == 2
