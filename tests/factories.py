"""Builders of valid request bodies and log events for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.domain.events import EVENT_TRANSACTION, NewEvent, TransactionIn, canonical_transaction, digest

BASE_TIME = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def transaction_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_id": f"tx-{n:06d}",
        "card_id": f"card-{n % 7}",
        "event_time": (BASE_TIME + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
        "amount": 10.0 + n,
        "attributes": {"V1": -1.25, "V2": 0.5 * n},
    }
    body.update(overrides)
    return body


def transaction_event(n: int = 1, **overrides: Any) -> NewEvent:
    tx = TransactionIn(**{**transaction_body(n), **overrides,
                          "event_time": BASE_TIME + timedelta(seconds=n)})
    canonical = canonical_transaction(tx)
    return NewEvent(EVENT_TRANSACTION, tx.transaction_id, tx.card_id, tx.event_time, digest(canonical), canonical)
