"""What a bulk load of the log needs besides its rows: a copy at the source's positions (`fraudlog rebuild`), the
positions continued after it, and the planner told what the log now holds (a history import)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.store.backend import backend_for
from fraudlog.store.event_log import EventRecord
from fraudlog.store.tables import events


def insert_copied(conn: Connection, records: Sequence[EventRecord]) -> None:
    """Insert events exactly as another log stored them: same positions, times, digests and payloads.

    Only for `fraudlog rebuild`, into a log that holds nothing at or after these positions; call
    `continue_positions_after_copy` once the copy is complete.
    """
    if records:
        conn.execute(sa.insert(events), [
            {"position": r.position, "event_type": r.event_type, "transaction_id": r.transaction_id,
             "card_id": r.card_id, "event_time": r.event_time, "recorded_at": r.recorded_at,
             "digest": r.digest, "payload": r.payload} for r in records])


def continue_positions_after_copy(conn: Connection) -> None:
    """After rows were inserted into `events` with explicit positions, make the next append follow them."""
    backend_for(conn).continue_positions_after_copy(conn)


def refresh_statistics(engine: Engine) -> None:
    """Let the query planner see the log as it is now: after a bulk load, as after a restore, the statistics
    describe the log with its history, not the empty table a new deployment starts from."""
    backend_for(engine).refresh_statistics(engine)
