"""One read-only connection that sees one consistent snapshot of the database: how replay, backtest, audit
and rebuild read.

They must never write (invariant 6: a replay never alerts) and must compare predictions with the log as it
stood at one instant, even while workers keep appending and scoring. So every query of a run goes through
one connection held in a read-only transaction, which the database itself enforces (see
`dialect.begin_read_only`). The log is streamed with a server-side cursor on that same connection
(`event_log.walk`), so memory stays flat whatever the log's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from service.store import dialect
from service.store.errors import driver_errors

_json_decoder = msgspec.json.Decoder()


@contextmanager
def read_only_snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection in a read-only transaction: a consistent view, and writes refused by the database."""
    with driver_errors(), engine.connect() as conn:
        snapshot = dialect.begin_read_only(conn)
        try:
            with snapshot.begin():
                yield snapshot
        finally:
            dialect.end_read_only(conn)


def json_text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """A JSON column read as text, to decode with `decode_json`.

    The drivers' json.loads was the largest single cost of a replay; msgspec is several times faster. Both
    parse numbers correctly rounded, so the values are the same floats.
    """
    return sa.cast(column, sa.Text)


def decode_json(text: str) -> Any:
    return _json_decoder.decode(text)
