"""Text attributes end to end, on SQLite and Postgres: POST, score, GET, replay and rebuild keep every string
(unicode included) and every categorical card feature bit for bit; a refused string writes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.cli import main
from fraudlog.config import Settings
from fraudlog.domain.assignment import CHALLENGER
from fraudlog.domain.categorical import feature_names
from fraudlog.domain.features import HistoryQuery
from fraudlog.domain.records import Decision
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.lifecycle.roles import assign_role
from fraudlog.lifecycle.versions import train_version
from fraudlog.ml.specs import spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay import replay
from fraudlog.replay.rebuild import rebuild
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.history import fetch_history
from fraudlog.store.tables import predictions
from tests.support.api import api_client
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, synthetic_rows

UNICODE = ("Zürich", "東京", "🛒💳", "São Paulo")
CHAMPION_CATEGORIES = ("country", "merchant_id")
CHALLENGER_CATEGORIES = ("device_id",)


def with_unicode(rows: list[tuple[dict[str, Any], bool]]) -> list[tuple[dict[str, Any], bool]]:
    """The synthetic rows, with every third country written in scripts a byte-naive store would mangle."""
    for index, (body, _) in enumerate(rows):
        if index % 3 == 0:
            body["attributes"]["country"] = UNICODE[index % len(UNICODE)]
    return rows


def install_versions(engine: Engine) -> ModelRegistry:
    """A logreg champion reading country and merchant features, an HST challenger reading device features."""
    registry = ModelRegistry(engine, SECRET)
    history = with_unicode(synthetic_rows(500, seed=21, cards=20))
    train_first_version(registry, history, spec_for("logreg").with_categories(CHAMPION_CATEGORIES), id_prefix="h:")
    hst = spec_for("hst", n_trees=10, height=8, window_size=100).with_categories(CHALLENGER_CATEGORIES)
    trained = train_version(engine, SECRET, hst, cut=EventLog(engine).last_position(), parent=1)
    assign_role(registry, registry.versions.add(trained), CHALLENGER,
                Decision(kind="manual", action="enter", reason="test"))
    return registry


def stored_predictions(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(predictions).order_by(predictions.c.position, predictions.c.model_version))
        return [{k: v for k, v in row.items() if k != "scored_at"} for row in rows.mappings()]


@pytest.mark.slow
def test_text_attributes_survive_post_scoring_get_replay_and_rebuild(engine: Engine, database_url: str,
                                                                     tmp_path: Path) -> None:
    registry = install_versions(engine)
    live = with_unicode(synthetic_rows(300, seed=22, cards=20))
    with api_client(Settings(database_url=database_url, secret_key=SECRET)) as client:
        receipts = client.post("/v1/transactions", json=[body for body, _ in live])
        assert receipts.status_code == 202, receipts.text
        positions = [receipt["position"] for receipt in receipts.json()]
        scorer = Scorer(engine, registry)
        for start in range(0, len(positions), 37):  # batches that cut cards' histories anywhere
            scorer.score_positions(positions[start:start + 37])

        for body, _ in live[:12]:
            shown = client.get(f"/v1/transactions/{body['transaction_id']}").json()
            assert shown["transaction"]["attributes"] == body["attributes"]
            by_role = {p["champion"]: p["features"] for p in shown["predictions"]}
            champion, challenger = by_role[True], by_role[False]
            assert champion["attr_country"] == body["attributes"]["country"]
            assert set(feature_names("country")) <= champion.keys()
            assert not set(feature_names("device_id")) & champion.keys()
            assert not set(feature_names("country")) & challenger.keys()
            if "device_id" in body["attributes"]:
                assert set(feature_names("device_id")) <= challenger.keys()

    assert any(p["features"].get("attr_country") == "東京" for p in stored_predictions(engine))
    assert any(p["features"].get("card_country_new_24h") == 0.0 for p in stored_predictions(engine))
    assert replay(engine, registry).reproduced

    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuild(engine, target_url, SECRET)
    target = create_engine(target_url)
    try:
        assert stored_predictions(target) == stored_predictions(engine)
        assert replay(target, ModelRegistry(target, SECRET)).reproduced
    finally:
        target.dispose()


@pytest.mark.slow
def test_replay_names_a_stored_categorical_feature_that_differs(engine: Engine, database_url: str) -> None:
    """The comparison sees the categorical features: the round trip above is not equal by accident."""
    registry = install_versions(engine)
    live = with_unicode(synthetic_rows(60, seed=23, cards=5))
    with api_client(Settings(database_url=database_url, secret_key=SECRET)) as client:
        positions = [r["position"] for r in client.post("/v1/transactions", json=[b for b, _ in live]).json()]
    Scorer(engine, registry).score_positions(positions)
    with engine.begin() as conn:
        row = conn.execute(sa.select(predictions.c.transaction_id, predictions.c.model_version,
                                     predictions.c.features).where(predictions.c.champion)
                           .order_by(predictions.c.position.desc()).limit(1)).one()
        altered = {**row.features, "card_country_distinct_24h": row.features["card_country_distinct_24h"] + 1}
        conn.execute(sa.update(predictions).where(predictions.c.transaction_id == row.transaction_id,
                                                  predictions.c.model_version == row.model_version)
                     .values(features=altered))
    report = replay(engine, registry)
    assert not report.reproduced and report.different == 1


REFUSED = {
    "empty": '""',
    "too long": json.dumps("x" * 129),
    "a control character": json.dumps("tab\there"),
    "a C1 control character": json.dumps("next\u0085line"),
    "NUL": json.dumps("nul\u0000"),
    "a lone surrogate": '"\\ud800"',
}


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_string_is_named_and_writes_nothing(database_url: str, value: str) -> None:
    good = '{"transaction_id": "t-1", "event_time": "2026-11-28T03:00:00Z", "amount": 1, ' \
           '"attributes": {"country": "FR"}}'
    bad = '{"transaction_id": "t-2", "event_time": "2026-11-28T03:00:00Z", "amount": 1, ' \
          f'"attributes": {{"country": {value}, "V1": 1}}}}'
    with api_client(Settings(database_url=database_url, secret_key=b"k")) as client:
        response = client.post("/v1/transactions", content=f"[{good}, {bad}]".encode(),
                               headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["pointer"] for e in response.json()["errors"]] == ["/1/attributes/country"]
        assert client.get("/v1/transactions/t-1").status_code == 404
    engine = create_engine(database_url)
    try:
        assert EventLog(engine).count() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_replay_under_another_category_setting_still_reproduces(engine: Engine, database_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The categories that computed a prediction's features come from its version's lineage, not from
    FRAUDLOG_CARD_CATEGORIES at replay time."""
    registry = install_versions(engine)
    live = with_unicode(synthetic_rows(80, seed=24, cards=5))
    with api_client(Settings(database_url=database_url, secret_key=SECRET)) as client:
        positions = [r["position"] for r in client.post("/v1/transactions", json=[b for b, _ in live]).json()]
    Scorer(engine, registry).score_positions(positions)
    monkeypatch.setenv("FRAUDLOG_DATABASE_URL", database_url)
    monkeypatch.setenv("FRAUDLOG_SECRET_KEY", SECRET.decode())
    monkeypatch.setenv("FRAUDLOG_API_KEYS", "test:admin:test-key")
    for setting in ("channel,mcc", ""):
        monkeypatch.setenv("FRAUDLOG_CARD_CATEGORIES", setting)
        assert main(["replay"]) == 0


def test_history_carries_the_text_of_each_category_and_never_a_number(engine: Engine) -> None:
    """Both backends read a category's value back as text, and a number under that name as no value."""
    bodies = [{"transaction_id": f"t-{i}", "card_id": "card-1", "event_time": f"2026-11-28T03:0{i}:00Z",
               "amount": 1.0, "attributes": attributes}
              for i, attributes in enumerate([{"country": "東京", "mcc": 5411}, {"country": 7, "mcc": "5411"},
                                              {"V1": 1.0}])]
    append_transactions(engine, [(body, False) for body in bodies])
    query = HistoryQuery(frozenset({"card-1"}), datetime(2026, 11, 27, tzinfo=UTC), 99)
    with engine.connect() as conn:
        history = sorted(fetch_history(conn, query, categories=("country", "mcc", "device_id")),
                         key=lambda view: view.position)
    assert [view.attributes for view in history] == [{"country": "東京"}, {"mcc": "5411"}, {}]
