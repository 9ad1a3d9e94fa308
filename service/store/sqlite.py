"""The SQLite backend (the embedded default): every protocol of `fraudlog.store.recorders`, and why each is done
this way here.

- **Connections.** WAL, `synchronous=FULL` (an acknowledged append survives power loss), foreign keys and a busy
  timeout on every connection, and writers open with `BEGIN IMMEDIATE` (`fraudlog_write`), so they queue on the
  busy timeout instead of failing with SQLITE_BUSY halfway through. The pool never pings (a file does not drop
  connections), so the scorer's pingless engine is the engine itself.
- **Serialising appends to the log** (invariant 2): `BEGIN IMMEDIATE` already admits a single writer, so the
  lock is the write transaction itself, and the next position is max(rowid) + 1 under it.
- **Bulk inserts** (log rows, prediction rows) go to sqlite3's `executemany`, which runs in C: through
  SQLAlchemy every row went through per-column bind processors. They run in the caller's SQLAlchemy transaction.
- **Matching a column against a batch of values** (`one_of`): `IN (SELECT value FROM json_each(?))`, one bound
  JSON array, so the statement has one shape whatever the batch's size.
- **A scoring batch** reads in a deferred transaction, ended before the scorer loads its model versions (which
  may record a refusal on another connection), and writes in a BEGIN IMMEDIATE one: the same statements as
  anywhere, one after another, since a round trip to a file in this process costs next to nothing.
- **Read-only snapshots**: `PRAGMA query_only` (WAL already gives a deferred read transaction its snapshot), so
  the database refuses a write. **Statistics**: SQLite plans without them, and its plans here do not need them.
  **Identity after an explicit-position copy**: SQLite continues after the largest rowid by itself.
- **Timestamps**: no such type, so naive UTC text (`tables.UTCDateTime` puts the offset back); the seconds
  between two are a `julianday` difference. **JSON values**: `json_extract` used bare, since it already returns
  a JSON string as text and a number as a number, where SQLAlchemy's generic path would re-quote each value and
  decode it again in Python.
- **One holder per deployment**: an exclusive `flock` on a file beside the database, held as long as the process.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from fraudlog.config import sqlite_path
from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.domain.records import NewPrediction
from fraudlog.store.recorders import (
    EVENT_COLUMNS,
    PREDICTION_COLUMNS,
    PREDICTION_JSON,
    LogHead,
    NewTransactionRow,
    ScoringRows,
    StillHeld,
)
from fraudlog.store.roles import ROLE_CHANGES_THROUGH_NEWEST
from fraudlog.store.rows import MemberRow, OutboxRow
from fraudlog.store.statements import known_transactions, suppressions_at, transactions_at
from fraudlog.store.tables import alert_members, alerts, events, predictions

_encode = msgspec.json.Encoder().encode
_INSERT_EVENTS = (f"INSERT INTO events (position, {', '.join(EVENT_COLUMNS)}) "
                  f"VALUES (?, {', '.join(['?'] * len(EVENT_COLUMNS))})")
_INSERT_PREDICTIONS = (f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) "
                       f"VALUES ({', '.join(['?'] * len(PREDICTION_COLUMNS))}) "
                       "ON CONFLICT (transaction_id, model_version) DO NOTHING")
# UNIQUE (transaction_id) is what makes "at most one alert per transaction" hold under retries, redelivered
# doorbells and concurrent workers, and the primary key on the alert id "one alert per card per window"; DO
# NOTHING (on any of the two) turns the loser into a no-op, not an error.
_INSERT_ALERTS = sqlite.insert(alerts).on_conflict_do_nothing().returning(alerts.c.id)
_INSERT_MEMBERS = (sqlite.insert(alert_members).on_conflict_do_nothing(index_elements=[alert_members.c.transaction_id])
                   .returning(alert_members.c.transaction_id))


def _dumps(value: Any) -> str:
    return _encode(value).decode()


def _sqlite_time(moment: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC), so both paths read back alike."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_value(column: str, value: Any) -> Any:
    if column in PREDICTION_JSON and value is not None:
        return _dumps(value)
    if isinstance(value, datetime):
        return _sqlite_time(value)
    return value


def _driver_cursor(conn: Connection) -> Any:
    return cast(Any, conn.connection.driver_connection).cursor()


class SQLiteBackend:
    """`recorders.Backend` on SQLite, through the standard library's sqlite3."""

    name = "sqlite"
    one_trip_append_rows = 0  # every statement is a call into this process: the general path costs no more

    # -- connections ----------------------------------------------------------------------------------

    def build_engine(self, url: str, json_serializer: Callable[[Any], str], **kwargs: Any) -> Engine:
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  json_serializer=json_serializer, **kwargs)
        event.listen(engine, "connect", _configure)
        event.listen(engine, "begin", _begin)
        return engine

    def engine_without_ping(self, engine: Engine, json_serializer: Callable[[Any], str]) -> Engine:
        return engine

    # -- SQL spelling ---------------------------------------------------------------------------------

    def insert(self, table: sa.Table) -> sqlite.Insert:
        return sqlite.insert(table)

    def one_of(self, column: sa.ColumnElement[Any], values: Sequence[Any],
               element_type: sa.types.TypeEngine[Any]) -> sa.ColumnElement[bool]:
        members = sa.func.json_each(sa.literal(_dumps(list(values)), sa.Text)).table_valued("value")
        return column.in_(sa.select(members.c.value))

    def json_values_at(self, column: Any, key: str, names: Sequence[str]) -> list[sa.ColumnElement[Any]]:
        return [sa.func.json_extract(column, f'$."{key}"."{name}"') for name in names]

    def utc_times(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return column  # naive text, which only `UTCDateTime`'s conversion makes aware

    def seconds_between(self, later: sa.ColumnElement[Any], earlier: sa.ColumnElement[Any],
                        ) -> sa.ColumnElement[float]:
        return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86_400.0

    # -- the log --------------------------------------------------------------------------------------

    def lock_event_log(self, conn: Connection) -> LogHead:
        # Under BEGIN IMMEDIATE this connection is the only writer, and an INTEGER PRIMARY KEY without
        # AUTOINCREMENT takes max(rowid) + 1. The embedded database is in this process: its clock is ours.
        next_position = int(conn.exec_driver_sql("SELECT coalesce(max(position), 0) + 1 FROM events").scalar_one())
        return LogHead(next_position, datetime.now(UTC))

    def lock_and_find_transactions(self, conn: Connection, transaction_ids: Sequence[str],
                                   ) -> tuple[list[tuple[str, str, int]], LogHead]:
        with_ids = self.one_of(events.c.transaction_id, transaction_ids, sa.Text())
        found = [(tx, digest, int(position)) for tx, digest, position in conn.execute(known_transactions(with_ids))]
        return found, self.lock_event_log(conn)

    def insert_event_rows(self, conn: Connection, rows: Sequence[tuple[Any, ...]], first_position: int,
                          ) -> list[int]:
        positions = list(range(first_position, first_position + len(rows)))
        if rows:
            cursor = _driver_cursor(conn)
            cursor.executemany(_INSERT_EVENTS, [
                (position, row[0], row[1], row[2], _sqlite_time(row[3]), _sqlite_time(row[4]), row[5], row[6])
                for position, row in zip(positions, rows, strict=True)])
            cursor.close()
        return positions

    def append_new_transactions(self, conn: Connection, rows: Sequence[NewTransactionRow],
                                recorded_at: datetime | None) -> list[int] | None:
        """Never called: `one_trip_append_rows` is 0. Stores nothing, which sends the caller the general way."""
        return None

    def continue_positions_after_copy(self, conn: Connection) -> None:
        """Nothing to do: the next rowid follows the largest one."""

    def refresh_statistics(self, engine: Engine) -> None:
        """Nothing to do: SQLite plans without statistics unless told to gather them."""

    # -- predictions and alerts -----------------------------------------------------------------------

    def insert_prediction_rows(self, conn: Connection, rows: Sequence[NewPrediction]) -> None:
        cursor = _driver_cursor(conn)
        cursor.executemany(_INSERT_PREDICTIONS,
                           [tuple(_sqlite_value(c, r.get(c)) for c in PREDICTION_COLUMNS) for r in rows])
        cursor.close()

    def insert_alert_rows(self, conn: Connection, rows: Sequence[OutboxRow]) -> set[str]:
        return set(conn.execute(_INSERT_ALERTS, list(rows)).scalars()) if rows else set()

    def insert_member_rows(self, conn: Connection, rows: Sequence[MemberRow]) -> set[str]:
        return set(conn.execute(_INSERT_MEMBERS, list(rows)).scalars()) if rows else set()

    # -- a scoring batch ------------------------------------------------------------------------------

    def read_scoring_batch(self, conn: Connection, positions: Sequence[int], roles_after: int) -> ScoringRows:
        at_positions = self.one_of(events.c.position, positions, sa.BigInteger())
        scored = sa.select(predictions.c.transaction_id, predictions.c.model_version).join_from(
            events, predictions, predictions.c.transaction_id == events.c.transaction_id).where(
            at_positions, events.c.event_type == EVENT_TRANSACTION)
        rows = ScoringRows([tuple(row) for row in conn.execute(transactions_at(at_positions))],
                           [tuple(row) for row in conn.execute(ROLE_CHANGES_THROUGH_NEWEST, {"after": roles_after})],
                           [tuple(row) for row in conn.execute(scored)],
                           [tuple(row) for row in conn.execute(suppressions_at(at_positions))])
        # End the read transaction, so the writes, and whatever the batch reads before them, take the write lock
        # anew with BEGIN IMMEDIATE (after the scorer loaded its versions, which may write on another connection).
        conn.rollback()
        conn.execution_options(fraudlog_write=True)
        return rows

    def write_scoring_batch(self, conn: Connection, prediction_rows: Sequence[NewPrediction],
                            alert_rows: Sequence[OutboxRow], member_rows: Sequence[MemberRow] = (),
                            ) -> set[str]:
        if not conn.in_transaction():
            conn.begin()  # BEGIN IMMEDIATE, before the driver's inserts, which SQLAlchemy does not see
        if prediction_rows:
            self.insert_prediction_rows(conn, prediction_rows)
        inserted = self.insert_alert_rows(conn, alert_rows) if alert_rows else set()
        if member_rows:
            inserted = self.insert_member_rows(conn, member_rows)
        conn.commit()
        return inserted

    # -- snapshots and locks --------------------------------------------------------------------------

    def begin_read_only(self, conn: Connection) -> Connection:
        _set_query_only(conn, True)
        return conn

    def end_read_only(self, conn: Connection) -> None:
        _set_query_only(conn, False)

    @contextmanager
    def hold_deployment_lock(self, engine: Engine, *, key: int, name: str) -> Iterator[StillHeld | None]:
        path = sqlite_path(str(engine.url))
        lock_path = (f"{path}.{name}.lock" if path is not None  # an in-memory database lives in one process
                     else os.path.join(tempfile.gettempdir(), f"fraudlog-{name}-{os.getpid()}-{id(engine)}.lock"))
        with open(lock_path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            yield lambda: True


def _configure(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can ask for BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged append survives power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin(conn: Connection) -> None:
    # A deferred transaction that later writes can fail with SQLITE_BUSY instead of waiting; taking the write lock
    # up front makes writers queue on busy_timeout.
    immediate = conn.get_execution_options().get("fraudlog_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _set_query_only(conn: Connection, on: bool) -> None:
    conn.exec_driver_sql(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
    conn.commit()  # SQLAlchemy began a transaction for the pragma; the snapshot's own begins after it


SQLITE = SQLiteBackend()
