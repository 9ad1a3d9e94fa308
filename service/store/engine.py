"""Engines for SQLite and Postgres, and the one place their transaction semantics differ."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from service.config import is_sqlite, normalise_database_url

LOCK_TIMEOUT = "5s"
_encoder = msgspec.json.Encoder()


def _json_serializer(value: Any) -> str:
    return _encoder.encode(value).decode()


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose write transactions serialise appends to the log on either backend."""
    url = normalise_database_url(url)
    if is_sqlite(url):
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_json_serializer,
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return sa.create_engine(url, pool_pre_ping=True, json_serializer=_json_serializer, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged append survives power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that later writes can fail with SQLITE_BUSY instead of waiting;
        # taking the write lock up front makes writers queue on busy_timeout.
        immediate = conn.get_execution_options().get("fraudlog_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write; on SQLite it holds the write lock from its first statement."""
    with engine.connect() as conn:
        conn.execution_options(fraudlog_write=True)
        with conn.begin():
            yield conn


def lock_event_log(conn: Connection) -> None:
    """Serialise appends so log positions become visible in the order they are handed out.

    Postgres hands out identity values at INSERT but they become visible at COMMIT; without this a reader
    tailing `position > last` could pass a row that commits later with a lower number (DESIGN invariant 2).
    EXCLUSIVE mode still lets readers read. SQLite needs nothing: BEGIN IMMEDIATE already admits one writer.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        conn.exec_driver_sql("LOCK TABLE events IN EXCLUSIVE MODE")


def dialect_insert(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that knows ON CONFLICT, for whichever backend `conn` talks to."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
