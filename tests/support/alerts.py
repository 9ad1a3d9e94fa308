"""An alert in the outbox for a transaction in the log, as the scorer leaves it: for tests of what answers it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from fraudlog.store.outbox import alert_id_for, insert_alert, mark_sent
from tests.support.event_log import append_transactions
from tests.support.models import synthetic_rows


def alerted_transaction(engine: Engine, *, delivered: bool, seed: int = 1) -> tuple[str, str]:
    """A transaction appended to the log and its alert, `sent` when `delivered`; returns (alert id, transaction)."""
    [(body, _)] = synthetic_rows(1, seed=seed, cards=1)
    [position] = append_transactions(engine, [(body, True)])
    alert_id = alert_on(engine, body["transaction_id"], position, card_id=body.get("card_id"), delivered=delivered)
    return alert_id, body["transaction_id"]


def alert_on(engine: Engine, transaction_id: str, position: int, *, card_id: str | None = None,
             delivered: bool = True, model_version: int = 1) -> str:
    """An alert for a transaction already in the log, `sent` when `delivered`; returns its id."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        insert_alert(conn, transaction_id=transaction_id, card_id=card_id, score=0.9, threshold=0.5,
                     model_version=model_version, position=position, created_at=now)
    alert_id = alert_id_for(transaction_id)
    if delivered:
        mark_sent(engine, [alert_id], now)
    return alert_id
