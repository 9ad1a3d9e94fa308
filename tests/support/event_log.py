"""Writing test rows into the event log the way the API does: through the store, never with SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from service.store.event_log import EventLog
from tests.support.data import label_event, transaction_event_from_body

Rows = list[tuple[dict[str, Any], bool]]  # (transaction body, is_fraud), as `synthetic_rows` makes them


def append_transactions(engine: Engine, rows: Rows) -> list[int]:
    """Append the rows' transactions in one unit; returns their positions, in order."""
    [outcome] = EventLog(engine).append_transactions([[transaction_event_from_body(body) for body, _ in rows]],
                                                     datetime.now(UTC))
    return [receipt.position for receipt in outcome.receipts]


def append_labels(engine: Engine, rows: Rows) -> None:
    """Append a label per row (its is_fraud), all labelled now, in one unit."""
    now = datetime.now(UTC)
    EventLog(engine).append_labels([[label_event(body["transaction_id"], is_fraud, now) for body, is_fraud in rows]],
                                   now)
