"""The prediction feed reads predictions in log order and only below its watermark (invariant 11): a
prediction that commits late at a lower position holds back everything above it, on SQLite and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from fraudlog.api.dependencies import services_of
from fraudlog.config import Settings
from fraudlog.domain.assignment import RETIRED
from fraudlog.domain.records import Decision
from fraudlog.feed.watermark import FeedWatermark
from fraudlog.lifecycle.roles import assign_role
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from tests.support.api import api_client
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows


@pytest.fixture
def registry(engine: Engine) -> ModelRegistry:
    return ModelRegistry(engine, SECRET)


def test_a_late_commit_holds_back_every_position_above_it(engine: Engine, registry: ModelRegistry) -> None:
    install_version(engine)
    p = append_transactions(engine, synthetic_rows(5, seed=21))
    scorer, watermark = Scorer(engine, registry), FeedWatermark(engine, registry)
    scorer.score_positions(p[:2])
    assert watermark.advance() == p[1]
    scorer.score_positions(p[3:])  # positions 4 and 5 commit before 3
    assert watermark.advance() == p[1], "4..5 must wait for 3"
    scorer.score_positions([p[2]])
    assert watermark.advance() == p[4]


def test_positions_no_champion_serves_are_final(engine: Engine, registry: ModelRegistry) -> None:
    """History imported before the first promotion, and transactions recorded while the champion was retired
    with none in its place, will never get a champion prediction: they must not stall the feed."""
    version = install_version(engine)  # the imported history precedes the first promotion
    watermark = FeedWatermark(engine, registry)
    assert watermark.advance() == registry.assignments().first_champion_position
    assign_role(registry, version, RETIRED, Decision(kind="manual", action="retire", reason="test"))
    unserved = append_transactions(engine, synthetic_rows(3, seed=22))
    assert Scorer(engine, registry).score_positions(unserved).predictions == 0
    assert watermark.advance() == unserved[-1]


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient[Any]]:
    settings = Settings(database_url=database_url, secret_key=SECRET)
    with api_client(settings) as client:
        yield client


def page(client: TestClient[Any], **params: Any) -> dict[str, Any]:
    response = client.get("/v1/predictions", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_deliver_each_prediction_once_in_log_order_and_wait_for_late_commits(client: TestClient[Any]) -> None:
    engine: Engine = services_of(client.app).engine
    registry = ModelRegistry(engine, SECRET)
    install_version(engine)
    p = append_transactions(engine, synthetic_rows(6, seed=23))
    scorer = Scorer(engine, registry)
    scorer.score_positions(p[:2] + p[3:])  # the third commits last
    first = page(client)
    assert [i["position"] for i in first["items"]] == p[:2]
    assert page(client, after=first["next_cursor"])["items"] == []
    scorer.score_positions([p[2]])
    rest = page(client, after=first["next_cursor"], limit=2)
    assert [i["position"] for i in rest["items"]] == p[2:4]
    last = page(client, after=rest["next_cursor"], limit=2)
    assert [i["position"] for i in last["items"]] == p[4:6]
    assert all(i["champion"] and i["model_version"] == 1 for i in first["items"] + rest["items"] + last["items"])


def test_filters_choose_versions_scores_and_alerts(client: TestClient[Any]) -> None:
    engine: Engine = services_of(client.app).engine
    registry = ModelRegistry(engine, SECRET)
    install_version(engine, alert_rate=0.3)
    challenger = install_version(engine, promote=False, model="logreg")
    p = append_transactions(engine, synthetic_rows(40, seed=24))
    Scorer(engine, registry).score_positions(p)
    everything = page(client, versions="all", limit=1000)["items"]
    assert len(everything) == 80 and [i["position"] for i in everything] == sorted(i["position"] for i in everything)
    assert {i["model_version"] for i in everything} == {1, challenger}
    only = page(client, model_version=challenger, limit=1000)["items"]
    assert len(only) == 40 and not any(i["champion"] for i in only)
    alerts = page(client, alerts="true", limit=1000)["items"]
    assert alerts and all(i["is_alert"] and i["champion"] and i["score"] >= i["threshold"] for i in alerts)
    assert len(alerts) == sum(i["is_alert"] for i in everything)
    high = page(client, versions="all", min_score=0.5, limit=1000)["items"]
    def keys(items: list[dict[str, Any]]) -> list[tuple[int, int]]:
        return [(i["position"], i["model_version"]) for i in items]

    assert keys([i for i in everything if i["score"] >= 0.5]) == keys(high)


def test_a_cursor_inside_a_position_resumes_with_its_next_version(client: TestClient[Any]) -> None:
    engine: Engine = services_of(client.app).engine
    install_version(engine)
    challenger = install_version(engine, promote=False, model="logreg")
    p = append_transactions(engine, synthetic_rows(3, seed=25))
    Scorer(engine, ModelRegistry(engine, SECRET)).score_positions(p)
    everything = page(client, versions="all")["items"]
    assert everything[0]["cursor"] == f"{p[0]}:1" and everything[1]["cursor"] == str(p[0])
    resumed = page(client, versions="all", after=f"{p[0]}:1")["items"]
    assert resumed == everything[1:] and resumed[0]["model_version"] == challenger


@pytest.mark.parametrize("cursor", ["-1", "abc", "1:2:3", "9" * 40])
def test_a_malformed_cursor_is_a_problem_naming_it(client: TestClient[Any], cursor: str) -> None:
    response = client.get("/v1/predictions", params={"after": cursor})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["pointer"].lstrip("/") == "after"
    stream = client.get("/v1/predictions/stream", headers={"Last-Event-ID": cursor})
    assert stream.status_code == 400 and stream.json()["errors"][0]["pointer"] == "Last-Event-ID"
