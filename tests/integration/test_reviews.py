"""The review queue and an alert's review (issues 28 and 29; docs/outcomes.md, "The review queue"), on SQLite and
Postgres: the queue holds exactly the alerts whose transaction has no label, in the order asked for; an
alert's review carries its transaction, the champion's stored reasons, the card's history up to it (newest
first, no other card, nothing later) and the answers it received; an answer or any label takes it off the queue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from fraudlog.client import ClientError, FraudlogClient
from fraudlog.config import Settings
from fraudlog.domain.events import parse_time
from fraudlog.models.registry import ModelRegistry
from fraudlog.scoring.scorer import Scorer
from fraudlog.store.tables import alerts, events, predictions
from tests.support.api import api_client, served_api
from tests.support.event_log import append_transactions
from tests.support.models import SECRET, install_version, synthetic_rows, tamper_artifact
from tests.support.workload import score_in_batches


@pytest.fixture
def client(engine: Engine, database_url: str) -> Iterator[TestClient[Any]]:
    install_version(engine, alert_rate=0.3)
    rows = synthetic_rows(80, seed=29, cards=4)
    score_in_batches(Scorer(engine, ModelRegistry(engine, SECRET)), append_transactions(engine, rows))
    with api_client(Settings(database_url=database_url, secret_key=SECRET)) as client:
        yield client


def stored_alerts(engine: Engine) -> list[tuple[str, str, float, Any]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(  # type: ignore[misc]
            sa.select(alerts.c.id, alerts.c.transaction_id, alerts.c.score, alerts.c.created_at)
            .where(alerts.c.type == "fraud_alert"))]


def queue(client: TestClient[Any], **params: Any) -> list[dict[str, Any]]:
    answer = client.get("/v1/reviews", params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_the_queue_holds_the_unlabelled_alerts_newest_or_highest_score_first(client: TestClient[Any],
                                                                             engine: Engine) -> None:
    made = stored_alerts(engine)
    assert len(made) >= 6, "the scenario needs several alerts"
    newest = queue(client, limit=100)
    assert [item["alert"]["alert_id"] for item in newest] == [
        alert_id for alert_id, *_ in sorted(made, key=lambda a: (a[3], a[0]), reverse=True)]
    by_score = queue(client, order="score", limit=100)
    scores = [item["alert"]["score"] for item in by_score]
    assert scores == sorted(scores, reverse=True) and len(by_score) == len(made)
    assert len(queue(client, limit=2)) == 2

    # An analyst's answer, and a chargeback label, each take their alert off the queue; nothing else moves.
    first, second = newest[0]["alert"], newest[1]["alert"]
    answered = client.post(f"/v1/alerts/{first['alert_id']}/outcome",
                           json={"outcome": "confirmed_fraud", "answered_by": "analyst"})
    assert answered.status_code == 202, answered.text
    labelled = client.post("/v1/labels", json={"transaction_id": second["transaction_id"], "is_fraud": False,
                                               "source": "chargeback"})
    assert labelled.status_code == 202, labelled.text
    left = [item["alert"]["alert_id"] for item in queue(client, limit=100)]
    assert left == [item["alert"]["alert_id"] for item in newest[2:]]


def test_an_alert_review_has_its_transaction_reasons_card_history_and_answers(client: TestClient[Any],
                                                                             engine: Engine) -> None:
    alert_id, transaction_id, score, _ = max(stored_alerts(engine), key=lambda a: a[2])
    review = client.get(f"/v1/alerts/{alert_id}", params={"history": 50}).json()
    assert review["alert"]["alert_id"] == alert_id and review["alert"]["score"] == score
    payment = review["transaction"]
    assert payment["transaction_id"] == transaction_id and review["label"] is None and review["outcomes"] == []
    with engine.connect() as conn:
        stored = conn.execute(sa.select(predictions.c.reasons).where(
            predictions.c.transaction_id == transaction_id, predictions.c.champion)).scalar_one()
    assert review["explanation"] == stored and len(review["explanation"]["reasons"]) > 0

    history = review["history"]
    assert history[0]["transaction_id"] == transaction_id and history[0]["alerted"] is True
    assert history[0]["score"] == score
    times = [parse_time(entry["event_time"]) for entry in history]
    assert times == sorted(times, reverse=True) and times[0] == parse_time(payment["event_time"])
    with engine.connect() as conn:  # every transaction of the log on this card up to the alert's
        expected = set(conn.execute(sa.select(events.c.transaction_id).where(
            events.c.event_type == "transaction", events.c.card_id == payment["card_id"],
            events.c.event_time <= parse_time(payment["event_time"]))).scalars())
    assert len(history) == len(expected) < 50
    assert {entry["transaction_id"] for entry in history} == expected  # the card's own, nothing later
    assert len(client.get(f"/v1/alerts/{alert_id}", params={"history": 1}).json()["history"]) == 1

    for answer in ({"outcome": "not_fraud", "answered_by": "analyst", "note": "known traveller"},
                   {"outcome": "confirmed_fraud", "answered_by": "analyst", "note": "second look"}):
        assert client.post(f"/v1/alerts/{alert_id}/outcome", json=answer).status_code == 202
    review = client.get(f"/v1/alerts/{alert_id}").json()
    assert [(o["outcome"], o["source"], o["note"]) for o in review["outcomes"]] == [
        ("not_fraud", "analyst", "known traveller"), ("confirmed_fraud", "analyst", "second look")]
    assert review["label"] == {"is_fraud": True, "source": "analyst"}
    assert review["history"][0]["is_fraud"] is True


def test_an_unknown_alert_or_a_bad_query_is_a_problem(client: TestClient[Any]) -> None:
    missing = client.get("/v1/alerts/no-such-alert")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"].endswith("/unknown-alert")
    for params in ({"order": "oldest"}, {"limit": 0}, {"limit": 101}, {"history": 0}, {"history": 51}):
        answer = client.get("/v1/reviews", params=params)
        assert answer.status_code == 400, (params, answer.text)


def test_a_version_names_how_its_predictions_are_explained(client: TestClient[Any], engine: Engine) -> None:
    """The explanation method is part of what `GET /v1/models/{v}` says of a version; a refused artifact
    explains nothing (null)."""
    alert_id = stored_alerts(engine)[0][0]
    used = client.get(f"/v1/alerts/{alert_id}").json()["explanation"]
    described = client.get("/v1/models/1").json()["explanation"]
    assert (described["method"], described["units"], described["top_k"]) == (used["method"], used["units"],
                                                                               used["top_k"])
    assert described["features_with_baseline"] > 0 and described["baseline"]
    tamper_artifact(engine, 1)
    assert client.get("/v1/models/1").json()["explanation"] is None


def test_the_python_client_reviews_and_answers_alerts(engine: Engine, database_url: str) -> None:
    install_version(engine, alert_rate=0.3)
    score_in_batches(Scorer(engine, ModelRegistry(engine, SECRET)),
                     append_transactions(engine, synthetic_rows(40, seed=30, cards=3)))
    with served_api(Settings(database_url=database_url, secret_key=SECRET)) as url, FraudlogClient(url) as client:
        waiting = client.reviews(order="score", limit=100)
        assert waiting.order == "score" and waiting.items
        top = waiting.items[0]
        assert top.alert.score == max(item.alert.score for item in waiting.items)
        assert client.review(top.alert.alert_id, history=3) == msgspec.structs.replace(
            top, history=top.history[:3])
        first = client.answer(top.alert.alert_id, "not_fraud", note="known traveller")
        again = client.answer(top.alert.alert_id, "not_fraud", note="known traveller")
        assert (first.status, again.status, again.position) == ("accepted", "duplicate", first.position)
        answered = client.review(top.alert.alert_id)
        assert answered.label is not None and (answered.label.is_fraud, answered.label.source) == (False, "analyst")
        assert [o.note for o in answered.outcomes] == ["known traveller"]
        assert top.alert.alert_id not in {item.alert.alert_id for item in client.reviews(limit=100).items}
        with pytest.raises(ClientError, match="404"):
            client.review("no-such-alert")
