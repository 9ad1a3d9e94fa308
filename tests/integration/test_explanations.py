"""Every alert stores its reasons, on both backends; replay recomputes them and names a changed one; the
webhook payload and rebuild carry them."""

from __future__ import annotations

import json

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.api.schemas import AlertPayload
from fraudlog.cli import main
from fraudlog.config import Settings
from fraudlog.ml.explain import EXACT, REPLACE_BY_BASELINE
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import replay
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.tables import alert_members, alerts, predictions
from tests.support.api import api_client
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows
from tests.support.workload import score_in_batches


def scored_workload(engine: Engine, model: str) -> None:
    install_version(engine, model=model, alert_rate=0.1)
    positions = append_transactions(engine, synthetic_rows(300, seed=41, cards=20))
    score_in_batches(Scorer(engine, ModelRegistry(engine, SECRET)), positions)


def stored(engine: Engine) -> list[sa.Row[tuple[str, bool, float, float, object]]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(predictions.c.transaction_id, predictions.c.champion,
                                           predictions.c.score, predictions.c.threshold, predictions.c.reasons)))


@pytest.mark.parametrize(("model", "method"), [("logreg", EXACT), ("hst", REPLACE_BY_BASELINE)])
def test_every_alert_and_only_an_alert_stores_its_reasons(engine: Engine, model: str, method: str) -> None:
    scored_workload(engine, model)
    rows = stored(engine)
    alerted = [row for row in rows if row.champion and row.score >= row.threshold]
    assert alerted and all(row.reasons is None for row in rows if row not in alerted)
    for row in alerted:
        assert row.reasons["method"] == method and 0 < len(row.reasons["reasons"]) <= 5
        assert all(reason["sentence"] for reason in row.reasons["reasons"])
    with engine.connect() as conn:
        payloads = {tx: payload for tx, payload in conn.execute(sa.select(alerts.c.transaction_id, alerts.c.payload))}
        members = {tx for (tx,) in conn.execute(sa.select(alert_members.c.transaction_id))}
    assert members == {row.transaction_id for row in alerted}  # every alerting transaction is covered by an alert
    by_transaction = {row.transaction_id: row for row in alerted}
    assert payloads and set(payloads) <= set(by_transaction)
    for transaction_id, payload in payloads.items():  # an alert shows the reasons of the transaction that opened it
        assert payload["reasons"] == by_transaction[transaction_id].reasons["reasons"]
        assert payload["explanation"]["method"] == method


def test_replay_reproduces_stored_reasons_then_names_a_changed_one(engine: Engine) -> None:
    scored_workload(engine, "logreg")
    registry = ModelRegistry(engine, SECRET)
    assert replay(engine, registry).reproduced
    row = next(row for row in stored(engine) if row.reasons is not None)
    changed = dict(row.reasons)
    first = dict(changed["reasons"][0])
    first["contribution"] += 1e-12
    changed["reasons"] = [first, *changed["reasons"][1:]]
    with engine.begin() as conn:
        conn.execute(sa.update(predictions).where(predictions.c.transaction_id == row.transaction_id,
                                                  predictions.c.champion).values(reasons=changed))
    report = replay(engine, registry)
    assert (report.different, report.missing, report.unexpected) == (1, 0, 0)
    [difference] = report.differences
    assert difference.transaction_id == row.transaction_id and set(difference.fields) == {"reasons"}


def test_the_webhook_payload_schema_is_in_the_openapi_document_and_the_api_shows_reasons(
        engine: Engine, database_url: str) -> None:
    scored_workload(engine, "logreg")
    with engine.connect() as conn:
        payloads = [payload for (payload,) in conn.execute(sa.select(alerts.c.payload))]
    assert payloads and all(msgspec.convert(p, AlertPayload).reasons for p in payloads)
    with api_client(Settings(database_url=database_url, secret_key=SECRET, alert_sink="memory://")) as client:
        document = client.get("/schema/openapi.json").json()
        schema = document["webhooks"]["alert"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert {"reasons", "explanation", "alert_id"} <= set(schema["properties"])
        alert = client.get("/v1/alerts").json()["items"][0]
        assert alert["reasons"] and alert["reasons"][0]["sentence"]
        view = client.get(f"/v1/transactions/{alert['transaction_id']}").json()
        assert all(p["reasons"]["reasons"] for p in view["predictions"])
        predicted = client.post("/v1/predict", json={"transaction": {
            "transaction_id": "what-if", "card_id": alert["card_id"], "amount": 950.0,
            "event_time": "2026-12-01T00:00:00Z"}}).json()
        assert predicted["reasons"]["method"] == EXACT and predicted["reasons"]["reasons"]


def test_fraudlog_explain_prints_an_alerts_reasons_and_refuses_an_unknown_transaction(
        engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    scored_workload(engine, "logreg")
    row = next(row for row in stored(engine) if row.reasons is not None)
    assert main(["explain", row.transaction_id]) == 0
    out = capsys.readouterr().out
    assert "(champion)" in out and ", alert; reasons by logreg-exact" in out
    assert row.reasons["reasons"][0]["sentence"] in out
    assert main(["explain", row.transaction_id, "--json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert shown["reasons"] == row.reasons
    assert main(["explain", "no-such-transaction"]) == 1
    assert capsys.readouterr().err.strip() == "fraudlog explain: no transaction 'no-such-transaction' in the log"
