"""Engines and write transactions: how the rest of the store opens a connection to either backend."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.config import normalise_database_url
from fraudlog.store.backend import backend_for, backend_for_url
from fraudlog.store.errors import CommitInDoubt

_encoder = msgspec.json.Encoder()
_ping = sa.text("SELECT 1")


def _json_serializer(value: Any) -> str:
    return _encoder.encode(value).decode()


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose write transactions serialise appends to the log on either backend."""
    url = normalise_database_url(url)
    return backend_for_url(url).build_engine(url, _json_serializer, **kwargs)


def check_reachable(engine: Engine) -> None:
    """Run the cheapest statement there is; raises the driver's error when the database cannot answer."""
    with engine.connect() as conn:
        conn.execute(_ping)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that may write; on SQLite it holds the write lock from its first statement."""
    with write_connection(engine) as conn, conn.begin():
        yield conn


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """One pooled connection for several short write transactions in a row (`with conn.begin():` each), as
    `write_transaction` begins them: one checkout and ping instead of one per transaction."""
    with engine.connect() as conn:
        conn.execution_options(fraudlog_write=True)
        yield conn


Work = TypeVar("Work")


class PinglessConnections:
    """Pooled connections for work that may safely run twice (it is idempotent), handed out without the pool's
    ping: a round trip per checkout, which was a quarter of a scoring batch's round trips on Postgres.

    A connection the database dropped (a restart, a killed backend) then shows at the work's first statement
    instead of at the ping. The pool is emptied, since its other connections are likely dropped too, and the
    work runs once more on a new connection, whether or not it failed before COMMIT: work that may run twice
    stores nothing twice. Any other failure, and a second one, is raised as it is.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = backend_for(engine).engine_without_ping(engine, _json_serializer)
        self._own_engine = self._engine is not engine

    def run(self, work: Callable[[Connection], Work]) -> Work:
        for attempt in (1, 2):
            with self._engine.connect() as conn:
                try:
                    return work(conn)
                except Exception:
                    if attempt == 2 or not WriterConnection.lost(conn):
                        raise
                    conn.invalidate()
            self._engine.dispose()  # its other idle connections are likely as dead
        raise AssertionError("unreachable: the second attempt returns or raises")

    def close(self) -> None:
        if self._own_engine:
            self._engine.dispose()


class WriterConnection:
    """One long-lived connection for a thread that writes all the time (the API's group committer).

    A pooled `write_transaction` checks a connection out and pings it for every transaction: a round trip
    and a few hundred microseconds of Python per group commit, on the thread every acknowledgement waits
    for. This holds one connection instead. A connection the database dropped (a restart, a killed backend)
    is replaced, and the work run again once on the new one, but only when it failed before COMMIT was sent:
    then nothing of it was stored, so running it again cannot store anything twice. A failure during COMMIT
    (ours, or one the work sent itself, which then raises `CommitInDoubt`) is reported as it is, because the
    commit may or may not have happened.

    Use it from one thread only.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def run(self, work: Callable[[Connection], Work]) -> Work:
        """`work` in one write transaction, committed; see the class for when it runs twice."""
        for attempt in (1, 2):
            conn = self._connection()
            transaction = conn.begin()
            try:
                result = work(conn)
            except BaseException as exc:
                lost = self.lost(conn)
                if not lost:
                    try:
                        transaction.rollback()
                    except Exception:
                        lost = True
                if lost:
                    self._drop()
                # Work that sent its own COMMIT (`LogRecorder.append_new_transactions`) and lost its connection
                # then: as for a failure during our COMMIT below, nobody knows whether it happened.
                if lost and attempt == 1 and isinstance(exc, Exception) and not isinstance(exc, CommitInDoubt):
                    continue
                raise
            try:
                transaction.commit()
            except BaseException:
                self._drop()
                raise
            return result
        raise AssertionError("unreachable: the second attempt returns or raises")

    def close(self) -> None:
        self._drop()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect()
            self._conn = conn.execution_options(fraudlog_write=True)
        return self._conn

    @staticmethod
    def lost(conn: Connection) -> bool:
        """Whether `conn` no longer reaches the database."""
        # SQLAlchemy marks a connection it saw fail as invalidated; a failure in a statement sent through the
        # driver directly (the bulk paths of `postgres` and `sqlite`) shows only on the driver's connection.
        if conn.invalidated or conn.closed:
            return True
        driver = conn.connection.driver_connection
        return bool(getattr(driver, "broken", False) or getattr(driver, "closed", False))

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                if not conn.invalidated:
                    conn.invalidate()
                conn.close()
