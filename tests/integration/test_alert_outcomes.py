"""Answers to alerts: each is an `alert_outcome` event in the log and the label of the alert's transaction,
idempotent, kept when they conflict, refused from a customer who never got the alert; the outbox is untouched
(docs/outcomes.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy.engine import Engine

from fraudlog.alerts.outcomes import AlertNotDelivered, UnknownAlert, record_outcome
from fraudlog.config import ApiKey, Settings
from fraudlog.domain.events import OutcomeIn
from fraudlog.replay.rebuild import rebuild
from fraudlog.store.engine import create_engine
from fraudlog.store.event_log import EventLog
from fraudlog.store.labels import effective_labels, label_for
from fraudlog.store.outbox import claim_pending_alerts
from fraudlog.store.tables import alerts
from tests.support.alerts import alerted_transaction
from tests.support.api import api_client
from tests.support.event_log import read_range
from tests.support.models import SECRET

NOT_ME = OutcomeIn(outcome="confirmed_fraud", answered_by="customer")
IT_WAS_ME = OutcomeIn(outcome="not_fraud", answered_by="customer", note="bought it in Lisbon")


def outcomes(engine: Engine) -> list[dict[str, Any]]:
    return [record.payload for record in read_range(engine, event_types=["alert_outcome"])]


def test_an_outcome_becomes_exactly_one_effective_label(engine: Engine) -> None:
    alert_id, tx = alerted_transaction(engine, delivered=True)
    first = record_outcome(engine, alert_id, IT_WAS_ME, "bank-app")
    again = record_outcome(engine, alert_id, IT_WAS_ME, "bank-app")  # a retry, stamped later by the server
    assert (first.status, again.status, again.position) == ("accepted", "duplicate", first.position)
    [stored] = outcomes(engine)
    assert (stored["alert_id"], stored["transaction_id"], stored["outcome"], stored["is_fraud"], stored["source"],
            stored["actor"], stored["note"]) == (alert_id, tx, "not_fraud", False, "customer", "bank-app",
                                                 "bought it in Lisbon")
    with engine.connect() as conn:
        assert effective_labels(conn) == {tx: False}
    row = label_for(engine, tx)
    assert row is not None and (row.is_fraud, row.source, row.position) == (False, "customer", first.position)


def test_conflicting_outcomes_are_kept_and_the_precedence_rule_picks_one(engine: Engine) -> None:
    alert_id, tx = alerted_transaction(engine, delivered=True)
    statuses = [record_outcome(engine, alert_id, answer, actor).status for answer, actor in (
        (NOT_ME, "bank-app"), (IT_WAS_ME, "bank-app"),  # the customer changes their mind: the latest counts
        (OutcomeIn(outcome="confirmed_fraud", answered_by="analyst"), "alice"),  # an analyst outranks them
        (OutcomeIn(outcome="confirmed_fraud", answered_by="customer", note="called back"), "bank-app"))]
    assert statuses == ["accepted", "correction", "correction", "accepted"]
    assert [(o["source"], o["outcome"]) for o in outcomes(engine)] == [
        ("customer", "confirmed_fraud"), ("customer", "not_fraud"), ("analyst", "confirmed_fraud"),
        ("customer", "confirmed_fraud")]  # the last: kept, not effective
    # The same answer again from the same key is a retry, however long after: one event.
    assert record_outcome(engine, alert_id, NOT_ME, "bank-app").status == "duplicate"
    assert len(outcomes(engine)) == 4
    row = label_for(engine, tx)
    assert row is not None and (row.is_fraud, row.source) == (True, "analyst")


def test_a_customer_answer_to_an_alert_never_delivered_is_refused_and_stores_nothing(engine: Engine) -> None:
    alert_id, tx = alerted_transaction(engine, delivered=False)
    with pytest.raises(AlertNotDelivered, match="pending, not sent"):
        record_outcome(engine, alert_id, IT_WAS_ME, "bank-app")
    assert outcomes(engine) == [] and label_for(engine, tx) is None
    # An analyst reviews alerts whether or not they were delivered.
    assert record_outcome(engine, alert_id, OutcomeIn(outcome="not_fraud", answered_by="analyst"), "alice"
                          ).status == "accepted"
    with pytest.raises(UnknownAlert):
        record_outcome(engine, "no-such-alert", IT_WAS_ME, "bank-app")


def test_an_outcome_never_resends_or_loses_an_alert(engine: Engine) -> None:
    pending_id, _ = alerted_transaction(engine, delivered=False, seed=1)
    sent_id, _ = alerted_transaction(engine, delivered=True, seed=2)
    with engine.connect() as conn:
        before = sorted(map(tuple, conn.execute(sa.select(alerts).order_by(alerts.c.id))))
    record_outcome(engine, pending_id, OutcomeIn(outcome="not_fraud", answered_by="analyst"), "alice")
    record_outcome(engine, sent_id, IT_WAS_ME, "bank-app")
    with engine.connect() as conn:
        assert sorted(map(tuple, conn.execute(sa.select(alerts).order_by(alerts.c.id)))) == before
    claimed = claim_pending_alerts(engine, limit=10, visibility_timeout=timedelta(seconds=30))
    assert [alert.alert_id for alert in claimed] == [pending_id]  # the pending one, once; the sent one, never


def test_a_rebuild_gives_outcomes_the_same_effective_labels(engine: Engine, tmp_path: Path) -> None:
    alert_id, tx = alerted_transaction(engine, delivered=True)
    record_outcome(engine, alert_id, IT_WAS_ME, "bank-app")
    record_outcome(engine, alert_id, OutcomeIn(outcome="confirmed_fraud", answered_by="analyst"), "alice")
    record_outcome(engine, alert_id, NOT_ME, "bank-app")
    target_url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    rebuild(engine, target_url, SECRET)
    target = create_engine(target_url)
    try:
        assert label_for(target, tx) == label_for(engine, tx)
        assert EventLog(target).count("alert_outcome") == 3
    finally:
        target.dispose()


ANALYST_KEY, INGEST_KEY = "k-analyst-0123456789", "k-ingest-0123456789"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient[Any]]:
    keys = (ApiKey("alice", "analyst", ANALYST_KEY), ApiKey("ingest", "ingest", INGEST_KEY))
    settings = Settings(database_url=database_url, secret_key=SECRET, api_keys=keys, alert_sink="memory://")
    with api_client(settings) as c:
        yield c


def test_post_an_outcome_over_http(client: TestClient[Any], engine: Engine) -> None:
    alert_id, tx = alerted_transaction(engine, delivered=True)
    auth = {"Authorization": f"Bearer {ANALYST_KEY}"}
    body = {"outcome": "not_fraud", "answered_by": "customer", "note": "it was me"}
    first = client.post(f"/v1/alerts/{alert_id}/outcome", json=body, headers=auth)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    again = client.post(f"/v1/alerts/{alert_id}/outcome", json=body, headers=auth)
    assert again.status_code == 200 and again.json() == {**first.json(), "status": "duplicate"}
    assert [o["actor"] for o in outcomes(engine)] == ["alice"]
    assert client.get(f"/v1/transactions/{tx}", headers=auth).json()["label"]["source"] == "customer"
    bad = client.post(f"/v1/alerts/{alert_id}/outcome", json={**body, "outcome": "maybe"}, headers=auth)
    assert bad.status_code == 422
    assert client.post(f"/v1/alerts/{alert_id}/outcome", json=body,
                       headers={"Authorization": f"Bearer {INGEST_KEY}"}).status_code == 403
