"""Engines and write transactions: how the rest of the store opens a connection to either backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from service.config import normalise_database_url
from service.store import dialect

_encoder = msgspec.json.Encoder()
_ping = sa.text("SELECT 1")


def _json_serializer(value: Any) -> str:
    return _encoder.encode(value).decode()


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose write transactions serialise appends to the log on either backend."""
    return dialect.build_engine(normalise_database_url(url), _json_serializer, **kwargs)


def check_reachable(engine: Engine) -> None:
    """Run the cheapest statement there is; raises the driver's error when the database cannot answer."""
    with engine.connect() as conn:
        conn.execute(_ping)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write; on SQLite it holds the write lock from its first statement."""
    with engine.connect() as conn:
        conn.execution_options(fraudlog_write=True)
        with conn.begin():
            yield conn
