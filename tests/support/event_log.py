"""Writing test rows into the event log the way the API does, and reading them back: through the store,
never with SQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy.engine import Engine

from fraudlog.store.event_log import WALK_CHUNK, EventLog, EventRecord
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


def read_range(engine: Engine, start: int = 1, stop: int | None = None, event_types: Iterable[str] | None = None,
               batch_size: int = WALK_CHUNK) -> Iterator[EventRecord]:
    """Events with start <= position <= stop in position order, one by one: `EventLog.walk`, flattened."""
    for chunk in EventLog(engine).walk(start, stop, event_types, batch_size):
        yield from chunk


def read_after(engine: Engine, position: int, limit: int = 1_000) -> list[EventRecord]:
    """Up to `limit` events after `position`: how a tailing reader follows the log."""
    return list(islice(read_range(engine, position + 1, batch_size=limit), limit))


def read_positions(engine: Engine, positions: Sequence[int]) -> list[EventRecord]:
    """The events at these positions, in position order."""
    wanted = set(positions)
    if not wanted:
        return []
    return [record for record in read_range(engine, min(wanted), max(wanted)) if record.position in wanted]
