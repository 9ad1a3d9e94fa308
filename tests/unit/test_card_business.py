"""The demo's card business (service/cli/card_business.py) against a fake API: customers answer alerts once they
are delivered, an alert's transaction waits for its answer instead of being imported, a wrong "it was me" and a
fraud nobody answered for are charged back later, every other transaction is imported once."""

from __future__ import annotations

from typing import Any

import pytest

from fraudlog.cli import card_business
from fraudlog.cli.card_business import CardBusiness, Shares
from fraudlog.client import AlertItem, AlertsPage, FraudlogClient


class FakeApi:
    """What `CardBusiness` asks of `FraudlogClient`: the alerts, answers to them (`post`) and labels."""

    def __init__(self) -> None:
        self.alert_list: list[AlertItem] = []
        self.answers: list[tuple[str, str, str]] = []
        self.labels: list[dict[str, Any]] = []

    def alerts(self, **_: Any) -> AlertsPage:
        return AlertsPage(items=list(reversed(self.alert_list)), next_cursor=None)  # newest first

    def post(self, path: str, body: dict[str, str]) -> None:
        alert_id = path.removeprefix("/v1/alerts/").removesuffix("/outcome")
        self.answers.append((alert_id, body["outcome"], body["answered_by"]))

    def label(self, labels: list[dict[str, Any]]) -> None:
        self.labels += labels

    def raise_alert(self, transaction_id: str, status: str) -> None:
        self.alert_list = [a for a in self.alert_list if a.transaction_id != transaction_id] + [AlertItem(
            alert_id=f"alert-{transaction_id}", transaction_id=transaction_id, card_id=None, score=0.9, threshold=0.5,
            model_version=1, created_at="2026-12-01T00:00:00Z", status=status, attempts=0, sent_at=None,
            last_error=None)]


def rows(*truths: tuple[str, bool]) -> list[tuple[dict[str, Any], bool]]:
    return [({"transaction_id": tx}, is_fraud) for tx, is_fraud in truths]


def test_answers_come_after_delivery_and_every_transaction_gets_one_label_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(card_business, "POLL_SECONDS", 0.0)
    api = FakeApi()
    always_wrong_on_fraud = Shares(customer_answers=1.0, it_was_me_on_fraud=1.0, not_me_on_legitimate=0.0,
                                   analyst_reviews=0.0, chargeback_when_cleared=1.0, chargeback_when_unanswered=1.0)
    business = CardBusiness(FraudlogClient.__new__(FraudlogClient), label_delay=2, shares=always_wrong_on_fraud)
    business.client = api  # type: ignore[assignment]
    api.raise_alert("t0", "pending")
    api.raise_alert("t1", "pending")
    business(rows(("t0", True), ("t1", False)), 2)
    business(rows(("t2", True), ("t3", False)), 4)  # t0 and t1 are due for import, but their alerts wait
    assert api.answers == [] and [label["transaction_id"] for label in api.labels] == []
    api.raise_alert("t0", "sent")
    api.raise_alert("t1", "sent")
    business(rows(("t4", False), ("t5", False)), 6)
    assert api.answers == [("alert-t0", "not_fraud", "customer"), ("alert-t1", "not_fraud", "customer")]
    business.finish()
    posted = {(label["transaction_id"], label["source"]): label["is_fraud"] for label in api.labels}
    assert posted == {("t2", "import"): True, ("t3", "import"): False, ("t4", "import"): False,
                      ("t5", "import"): False,
                      ("t0", "chargeback"): True,  # overrules the customer's "it was me"
                      ("t2", "chargeback"): True}  # a fraud nobody answered for, disputed later
    assert len(api.labels) == len(posted)  # each once
    tally = business.tally
    assert (tally.customer_answers, tally.wrong_answers, tally.imports, tally.chargebacks) == (2, 1, 4, 2)


def test_each_transactions_fate_is_decided_by_the_seed_alone() -> None:
    first, second = (CardBusiness(FraudlogClient.__new__(FraudlogClient), label_delay=1, seed=7) for _ in range(2))
    ids = [f"tx-{i}" for i in range(200)]
    draws = [first._draw("customer", tx) for tx in ids]
    assert [second._draw("customer", tx) for tx in reversed(ids)] == list(reversed(draws))
    assert CardBusiness(first.client, label_delay=1, seed=8)._draw("customer", "tx-0") != draws[0]
    assert 0.5 < sum(d < 0.6 for d in draws) / len(draws) < 0.7  # about the share asked for
