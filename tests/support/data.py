"""Test data: the sample CSV's path, and builders of valid request bodies and log events.

This is the one module of the test helpers that names the event vocabulary (`NewEvent`, `EVENT_*`), so that
moving that vocabulary changes one import here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fraudlog.domain.events import (
    LabelIn,
    NewEvent,
    TransactionIn,
    TransactionRecorded,
    recorded_label,
    recorded_transaction,
    to_row,
)
from fraudlog.domain.label_sources import LabelSource

# The credit-card sample lives beside the repository (shared by every checkout), not inside it.
SAMPLE_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "creditcard_sample.csv.gz"
BASE_TIME = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def transaction_body(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """The JSON body of transaction number `n`, as a client would POST it."""
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
    """The log event the API would append for `transaction_body(n, **overrides)`."""
    tx = TransactionIn(**{**transaction_body(n), **overrides, "event_time": BASE_TIME + timedelta(seconds=n)})
    return _transaction_event(tx)


def transaction_event_from_body(body: dict[str, Any]) -> NewEvent:
    """The log event the API would append for a JSON transaction body (e.g. one of `synthetic_rows`)."""
    when = datetime.fromisoformat(body["event_time"].replace("Z", "+00:00"))
    return _transaction_event(TransactionIn(**{**body, "event_time": when}))


def label_event(transaction_id: str, is_fraud: bool, labeled_at: datetime, source: LabelSource | None = None,
                ) -> NewEvent:
    """The log event the API would append for a label posted at `labeled_at` (from `source`: None, `api`)."""
    label = LabelIn(transaction_id=transaction_id, is_fraud=is_fraud, source=source)
    return to_row(recorded_label(label, labeled_at), labeled_at)


def _transaction_event(tx: TransactionIn) -> NewEvent:
    recorded: TransactionRecorded = recorded_transaction(tx)
    return to_row(recorded, tx.event_time)
