"""The transactions of a range, chunk by chunk, as the pure functions take them (`TxView`s).

Replay, backtest and rebuild walk the log with the store's one walk (`event_log.walk`) on their snapshot;
this only turns its records into views.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.engine import Connection

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.domain.features import TxView
from fraudlog.store.event_log import walk

CHUNK = 1_000


def transaction_chunks(conn: Connection, start: int, stop: int, size: int = CHUNK) -> Iterator[list[TxView]]:
    """The transaction events with start <= position <= stop, in position order, `size` at a time."""
    for records in walk(conn, start, stop, [EVENT_TRANSACTION], size):
        yield [TxView.from_payload(record.position, record.payload) for record in records]
