"""`POST /v1/predict` with several versions: the same features scored by each, equal to what those versions
store when the transaction is then appended and scored; bad requests change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from fraudlog.api.dependencies import services_of
from fraudlog.config import Settings
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.event_log import EventLog
from fraudlog.store.predictions import predictions_for
from tests.support.api import api_client
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient[Any]]:
    with api_client(Settings(database_url=database_url, secret_key=SECRET)) as client:
        yield client


def test_comparing_versions_matches_what_each_stores_for_the_same_transaction(client: TestClient[Any]) -> None:
    engine = services_of(client.app).engine
    champion = install_version(engine, alert_rate=0.2)
    challenger = install_version(engine, promote=False, model="logreg")
    append_transactions(engine, synthetic_rows(30, seed=41))  # history for the card's windowed features
    transaction = synthetic_rows(31, seed=41)[30][0]
    live = client.post("/v1/predict", json={"transaction": transaction, "model_versions": "live"})
    named = client.post("/v1/predict", json={"transaction": transaction, "model_versions": [challenger, champion]})
    assert live.status_code == named.status_code == 200, live.text
    rows = live.json()["predictions"]
    assert [(r["model_version"], r["status"]) for r in rows] == [(champion, "champion"), (challenger, "challenger")]
    assert [r["model_version"] for r in named.json()["predictions"]] == [challenger, champion]

    [position] = append_transactions(engine, [(transaction, False)])
    Scorer(engine, ModelRegistry(engine, SECRET)).score_positions([position])
    stored = {p.model_version: msgspec.to_builtins(p) for p in predictions_for(engine, transaction["transaction_id"])}
    assert set(stored) == {champion, challenger}
    for row in rows:
        kept = stored[row["model_version"]]
        assert (row["score"], row["threshold"]) == (kept["score"], kept["threshold"])
        assert row["is_alert"] == (kept["score"] >= kept["threshold"])
        assert live.json()["features"] == kept["features"]
    single = client.post("/v1/predict", json={"transaction": transaction}).json()
    assert set(single) == {"score", "is_alert", "threshold", "model_version", "features", "reasons"}


@pytest.mark.parametrize(("extra", "status", "pointer"), [
    ({"model_versions": [1, 99]}, 404, None),
    ({"model_versions": []}, 422, "/model_versions"),
    ({"model_versions": "all"}, 422, "/model_versions"),
    ({"model_versions": [0]}, 422, "/model_versions/0"),
    ({"model_versions": [1], "model_version": 1}, 422, "/model_versions"),
])
def test_a_bad_comparison_is_a_problem_and_stores_nothing(client: TestClient[Any], extra: dict[str, Any],
                                                          status: int, pointer: str | None) -> None:
    engine = services_of(client.app).engine
    install_version(engine)
    before = EventLog(engine).count()
    transaction = synthetic_rows(1, seed=42)[0][0]
    response = client.post("/v1/predict", json={"transaction": transaction, **extra})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if pointer:
        assert pointer in {e["pointer"] for e in response.json()["errors"]}
    assert EventLog(engine).count() == before
