"""One read-only connection that sees one consistent snapshot of the database: how replay, backtest, audit
and rebuild read.

They must never write (invariant 6: a replay never alerts) and must compare predictions with the log as it
stood at one instant, even while workers keep appending and scoring. So every query of a run goes through
one connection held in a read-only transaction, which the database itself enforces (see
`recorders.Snapshots`). The log is streamed with a server-side cursor on that same connection
(`event_log.walk`), so memory stays flat whatever the log's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from fraudlog.store.backend import backend_for
from fraudlog.store.errors import driver_errors


@contextmanager
def read_only_snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection in a read-only transaction: a consistent view, and writes refused by the database."""
    backend = backend_for(engine)
    with driver_errors(), engine.connect() as conn:
        snapshot = backend.begin_read_only(conn)
        try:
            with snapshot.begin():
                yield snapshot
        finally:
            backend.end_read_only(conn)

