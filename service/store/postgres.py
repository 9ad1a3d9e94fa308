"""The Postgres backend: every protocol of `fraudlog.store.recorders`, and why each is done this way here.

- **Connections.** A pool that pings each connection it hands out, and for the scorer a second one that does
  not (`engine_without_ping`): its batches notice a dropped connection themselves and run again
  (`engine.PinglessConnections`). Every session runs in UTC and plans each execution (`_configure`).
- **Serialising appends to the log** (invariant 2): `LOCK TABLE events IN EXCLUSIVE MODE` under a lock timeout,
  and the positions read from the log's identity sequence under that lock, not drawn with nextval.
- **Appends in few round trips.** The lock, the duplicate lookup and the next position go in one pipeline
  (`lock_and_find_transactions`); the rows then go with the sequence's `setval` in one `INSERT ... SELECT FROM
  unnest(arrays)`, or COPY above `COPY_FROM_ROWS`: an append of a few rows is three round trips in all (lock and
  look up; insert and move the sequence; COMMIT). The API writer's common group, every event a transaction new to
  the log, is one round trip (`append_new_transactions`). Through SQLAlchemy a 1,000-row INSERT ... RETURNING
  is one statement with 8,000 placeholders that psycopg parses in Python on every call.
- **Matching a column against a batch of values** (`one_of`): `= ANY(array)`, one bound array, so the statement
  has one shape whatever the batch's size (an expanding IN is a new statement with a placeholder per value,
  which psycopg parses in Python on every call) and psycopg prepares it.
- **Predictions and alerts** go in as one `INSERT ... SELECT FROM unnest(arrays)` each, one array per column.
- **A scoring batch in two round trips where there were nine** (`read_scoring_batch`, `write_scoring_batch`): the
  scorer's connection runs in autocommit; its reads (the batch's transactions, the role changes, the predictions
  already stored, looked up by key) go in one pipeline outside any transaction, and its writes spell out BEGIN,
  both inserts and COMMIT in another, since psycopg sends a BEGIN of its own alone even in a pipeline.
- **Read-only snapshots**: REPEATABLE READ READ ONLY. **Statistics after a bulk load**: `ANALYZE`.
  **Identity after an explicit-position copy**: the sequence is moved past the copied log.
- **Timestamps**: TIMESTAMPTZ, which psycopg hands back as `datetime.UTC` times in a UTC session (`utc_times`);
  seconds between two are `EXTRACT(EPOCH FROM ...)`. **JSON values** come back decoded by psycopg from JSONB.
- **One holder per deployment**: a session advisory lock, which vanishes with its session.

Statements both backends run are defined once in SQLAlchemy (`statements`, `roles`) and compiled here once for
the driver (`_Compiled`); the ones only Postgres runs are named attributes, built once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple, cast

import msgspec
import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.domain.records import NewPrediction
from fraudlog.store.errors import CommitInDoubt
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
from fraudlog.store.tables import events

LOCK_TIMEOUT = "5s"
# Up to this many rows an append is one INSERT from arrays, sent in one pipeline with the sequence's move; above
# it COPY, which costs two more round trips but a third of the CPU per row in Python and on the server.
COPY_FROM_ROWS = 64
# The identity sequence of events.position (migration 0001 names none, so Postgres names it after the column;
# test_event_log.py checks the name against pg_get_serial_sequence). Appends read it under the log's lock and move it
# with setval when they insert, instead of drawing with nextval: one round trip fewer per append.
POSITION_SEQUENCE = "events_position_seq"

_encode = msgspec.json.Encoder().encode


class _Compiled(NamedTuple):
    """A SQLAlchemy statement compiled once for psycopg: its text and the values it binds itself."""

    sql: str
    params: dict[str, Any]

    def bound(self, **values: Any) -> dict[str, Any]:
        return {**self.params, **values}


def _compiled(statement: sa.Select[Any]) -> _Compiled:
    compiled = statement.compile(dialect=psycopg_dialect(), compile_kwargs={"render_postcompile": True})
    return _Compiled(compiled.string, dict(compiled.params))


def _any_of(column: sa.ColumnElement[Any], name: str, element_type: sa.types.TypeEngine[Any]) -> sa.ColumnElement[bool]:
    return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(element_type), required=False))


_SET_LOCK_TIMEOUT = f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"
_LOCK_EVENTS = "LOCK TABLE events IN EXCLUSIVE MODE"
_KNOWN_TRANSACTIONS = _compiled(known_transactions(_any_of(events.c.transaction_id, "ids", sa.String())))
_NEXT_POSITION = ("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END, clock_timestamp() "
                  f"FROM {POSITION_SEQUENCE}")
_MOVE_POSITIONS = f"SELECT setval('{POSITION_SEQUENCE}', %s)"
_COPY_EVENTS = f"COPY events (position, {', '.join(EVENT_COLUMNS)}) FROM STDIN"

# The common group commit, every event a transaction new to the log and no id twice (single POSTs), in one round
# trip: BEGIN, the lock, this statement and COMMIT in one pipeline. As in the general path, the positions follow
# the identity sequence's value read under the lock and the sequence is moved past them (`setval` of the inserted
# rows' maximum, so only once every row is in). recorded_at is the database's clock read under the lock, so it
# grows with the position across API processes. When the log holds any of the ids already, nothing is inserted
# (and nothing moved: setval of no rows is NULL) and the caller takes the general path, which looks them up. No
# error and no ROLLBACK for that: psycopg forgets every prepared statement on a ROLLBACK.
_APPEND_NEW_TRANSACTIONS = (
    "WITH stamp AS (SELECT coalesce(%s::timestamptz, clock_timestamp()) AS recorded_at, "
    f"(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {POSITION_SEQUENCE}) AS first), "
    "new AS (SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::text[]) "
    "WITH ORDINALITY AS row (transaction_id, card_id, event_time, digest, payload, n)), "
    "inserted AS (INSERT INTO events (position, event_type, transaction_id, card_id, event_time, recorded_at, digest, "
    f"payload) SELECT stamp.first + new.n - 1, '{EVENT_TRANSACTION}', new.transaction_id, new.card_id, new.event_time, "
    "stamp.recorded_at, new.digest, new.payload::jsonb FROM new CROSS JOIN stamp WHERE NOT EXISTS ("
    f"SELECT 1 FROM events JOIN new AS known ON events.transaction_id = known.transaction_id "
    f"WHERE events.event_type = '{EVENT_TRANSACTION}') "
    "RETURNING position) "
    f"SELECT setval('{POSITION_SEQUENCE}', max(position)) FROM inserted")


# One array per column, so the statement has one shape whatever the batch's size and psycopg prepares it once
# per connection; executemany sent a statement per row, each with its values dumped in Python, and through
# SQLAlchemy the alerts' statement changed with every batch's alert count, so psycopg parsed each anew (a quarter
# of a scoring batch's time at a 5 % alert rate). The arrays go in binary (`%b`): in text, psycopg quotes every
# element of a text array in Python. JSON columns travel as text (encoded by msgspec) and are cast in the
# database, which parses them exactly as it parsed a Jsonb parameter.
def _unnest_insert(table: str, types: dict[str, str], json_columns: Sequence[str], tail: str) -> str:
    columns = ", ".join(types)
    return (f"INSERT INTO {table} ({columns}) "
            f"SELECT {', '.join(c + '::jsonb' if c in json_columns else c for c in types)} "
            f"FROM unnest({', '.join(f'%b::{sql_type}[]' for sql_type in types.values())}) AS row ({columns}) {tail}")


_EVENT_ARRAY_TYPES = {"position": "int8", "event_type": "text", "transaction_id": "text", "card_id": "text",
                      "event_time": "timestamptz", "recorded_at": "timestamptz", "digest": "text", "payload": "text"}
_PREDICTION_ARRAY_TYPES = {"transaction_id": "text", "model_version": "int4", "position": "int8", "champion": "bool",
                           "score": "float8", "threshold": "float8", "features": "text", "event_time": "timestamptz",
                           "recorded_at": "timestamptz", "scored_at": "timestamptz", "environment_drift": "text",
                           "reasons": "text", "suppressed_by": "text"}
_ALERT_ARRAY_TYPES = {"id": "text", "aggregatetype": "text", "aggregateid": "text", "type": "text",
                      "payload": "text", "transaction_id": "text", "card_id": "text", "score": "float8",
                      "threshold": "float8", "model_version": "int4", "position": "int8",
                      "created_at": "timestamptz", "status": "text", "attempts": "int4",
                      "available_at": "timestamptz", "sent_at": "timestamptz", "last_error": "text"}
ALERT_COLUMNS = tuple(_ALERT_ARRAY_TYPES)
_INSERT_EVENT_ARRAYS = _unnest_insert("events", _EVENT_ARRAY_TYPES, ("payload",), "")
_INSERT_PREDICTION_ARRAYS = _unnest_insert("predictions", _PREDICTION_ARRAY_TYPES, PREDICTION_JSON,
                                           "ON CONFLICT (transaction_id, model_version) DO NOTHING")
_MEMBER_ARRAY_TYPES = {"transaction_id": "text", "alert_id": "text", "card_id": "text", "position": "int8",
                       "event_time": "timestamptz", "score": "float8", "threshold": "float8", "model_version": "int4",
                       "created_at": "timestamptz", "message_id": "text"}
MEMBER_COLUMNS = tuple(_MEMBER_ARRAY_TYPES)
# UNIQUE (transaction_id) is what makes "at most one alert per transaction" hold under retries, redelivered
# doorbells and concurrent workers, and the primary key on the alert id "one alert per card per window" (a second
# worker's insert waits for the first's commit, then does nothing); DO NOTHING turns the loser into a no-op.
_INSERT_ALERT_ARRAYS = _unnest_insert("alerts", _ALERT_ARRAY_TYPES, ("payload",), "ON CONFLICT DO NOTHING RETURNING id")
_INSERT_MEMBER_ARRAYS = _unnest_insert("alert_members", _MEMBER_ARRAY_TYPES, (),
                                       "ON CONFLICT (transaction_id) DO NOTHING RETURNING transaction_id")

# A scoring batch's reads. The stored predictions are keyed by transaction id as `predictions.existing_predictions`
# is, through the log's own id of each position: one primary-key lookup per transaction, whatever the planner
# believes of the table. Written as a plain join (as SQLite runs it), a deployment whose predictions table had no
# statistics yet (autovacuum had not analysed it) got a hash join over a scan of the whole table, 11-24 ms per
# batch at 20,000 predictions and growing, where these lookups take 0.4 ms. OFFSET 0 keeps the planner from
# flattening the lookup back into that join.
_TRANSACTIONS_AT = _compiled(transactions_at(_any_of(events.c.position, "positions", sa.BigInteger())))
_ROLE_CHANGES_THROUGH_NEWEST = _compiled(ROLE_CHANGES_THROUGH_NEWEST)
_SUPPRESSIONS_AT = _compiled(suppressions_at(_any_of(events.c.position, "positions", sa.BigInteger())))
SCORED_AT = ("SELECT p.transaction_id, p.model_version FROM events AS e CROSS JOIN LATERAL ("
             "SELECT transaction_id, model_version FROM predictions WHERE transaction_id = e.transaction_id OFFSET 0) "
             f"AS p WHERE e.position = ANY(%(positions)s::int8[]) AND e.event_type = '{EVENT_TRANSACTION}'")


def _driver(conn: Connection) -> psycopg.Connection[Any]:
    return cast("psycopg.Connection[Any]", conn.connection.driver_connection)


def _dumps(value: Any) -> str:
    return _encode(value).decode()


def _column_arrays(rows: Sequence[Mapping[str, object]], columns: Sequence[str], json_columns: Sequence[str],
                   ) -> list[list[Any]]:
    return [[None if value is None else _dumps(value) for value in (r.get(column) for r in rows)]
            if column in json_columns else [r.get(column) for r in rows]
            for column in columns]


def _queue_lock(driver: psycopg.Connection[Any]) -> None:
    """The log's lock, under its timeout, queued in the caller's pipeline."""
    driver.execute(_SET_LOCK_TIMEOUT)
    driver.execute(_LOCK_EVENTS)


def _log_head(row: Any) -> LogHead:
    return LogHead(int(row[0]), row[1])


class PostgresBackend:
    """`recorders.Backend` on Postgres, through psycopg 3."""

    name = "postgresql"
    one_trip_append_rows = COPY_FROM_ROWS

    # -- connections ----------------------------------------------------------------------------------

    def build_engine(self, url: str, json_serializer: Callable[[Any], str], **kwargs: Any) -> Engine:
        if "poolclass" not in kwargs:
            kwargs.setdefault("pool_size", 10)
            kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        engine = sa.create_engine(url, json_serializer=json_serializer, **kwargs)
        event.listen(engine, "connect", _configure)
        return engine

    def engine_without_ping(self, engine: Engine, json_serializer: Callable[[Any], str]) -> Engine:
        return self.build_engine(engine.url.render_as_string(hide_password=False), json_serializer,
                                 pool_pre_ping=False)

    # -- SQL spelling ---------------------------------------------------------------------------------

    def insert(self, table: sa.Table) -> postgresql.Insert:
        return postgresql.insert(table)

    def one_of(self, column: sa.ColumnElement[Any], values: Sequence[Any],
               element_type: sa.types.TypeEngine[Any]) -> sa.ColumnElement[bool]:
        return column == sa.any_(sa.literal(list(values), postgresql.ARRAY(element_type)))

    def json_values_at(self, column: Any, key: str, names: Sequence[str]) -> list[sa.ColumnElement[Any]]:
        return [column[(key, name)] for name in names]

    def utc_times(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # The driver already returns `datetime.UTC` times (the session's zone is UTC, `_configure`), so the
        # per-row conversion of `UTCDateTime` is skipped.
        return sa.type_coerce(column, sa.DateTime(timezone=True))

    def seconds_between(self, later: sa.ColumnElement[Any], earlier: sa.ColumnElement[Any],
                        ) -> sa.ColumnElement[float]:
        return sa.cast(sa.extract("epoch", later - earlier), sa.Float)

    # -- the log --------------------------------------------------------------------------------------

    def lock_event_log(self, conn: Connection) -> LogHead:
        # Postgres hands out identity values at INSERT but they become visible at COMMIT; without the lock a
        # reader tailing `position > last` could pass a row that commits later with a lower number. EXCLUSIVE
        # mode still lets readers read. The next position is read under the lock, so nobody else takes it.
        driver = _driver(conn)
        with driver.pipeline():
            _queue_lock(driver)
            following = driver.execute(_NEXT_POSITION)
        return _log_head(following.fetchone())

    def lock_and_find_transactions(self, conn: Connection, transaction_ids: Sequence[str],
                                   ) -> tuple[list[tuple[str, str, int]], LogHead]:
        # The four statements in one pipeline (one round trip), the lookup of one fixed shape (`= ANY(array)`, not
        # an IN list whose shape changes with every group), so the driver prepares it once per connection.
        driver = _driver(conn)
        with driver.pipeline():
            _queue_lock(driver)
            found = driver.execute(_KNOWN_TRANSACTIONS.sql, _KNOWN_TRANSACTIONS.bound(ids=list(transaction_ids)))
            following = driver.execute(_NEXT_POSITION)
        known = [(tx, digest, int(position)) for tx, digest, position in found.fetchall()]
        return known, _log_head(following.fetchone())

    def insert_event_rows(self, conn: Connection, rows: Sequence[tuple[Any, ...]], first_position: int,
                          ) -> list[int]:
        # The positions were read from the log's identity sequence under the log's lock, and the rows commit under
        # the same lock, so positions still become visible in the order they were handed out (invariant 2); the
        # sequence is moved past them before COMMIT. The payload goes as the canonical JSON text the digest was
        # computed over: nothing is encoded twice.
        positions = list(range(first_position, first_position + len(rows)))
        if not rows:
            return positions
        driver = _driver(conn)
        if len(rows) <= COPY_FROM_ROWS:
            columns = [positions, *(list(column) for column in zip(*rows, strict=True))]
            with driver.pipeline():
                driver.execute(_INSERT_EVENT_ARRAYS, columns)
                driver.execute(_MOVE_POSITIONS, (positions[-1],))
            return positions
        with driver.cursor() as cursor:
            with cursor.copy(_COPY_EVENTS) as copy:
                for position, row in zip(positions, rows, strict=True):
                    copy.write_row((position, *row))
            cursor.execute(_MOVE_POSITIONS, (positions[-1],))
        return positions

    def append_new_transactions(self, conn: Connection, rows: Sequence[NewTransactionRow],
                                recorded_at: datetime | None) -> list[int] | None:
        # The connection's transaction ends here: a caller's later commit finds nothing to do. BEGIN is spelled
        # out in the pipeline: in a transaction of its own making psycopg sends BEGIN alone, one more round trip.
        driver = _driver(conn)
        columns = [list(column) for column in zip(*rows, strict=True)]
        driver.autocommit = True
        try:
            with driver.pipeline():
                driver.execute("BEGIN")
                _queue_lock(driver)
                inserted = driver.execute(_APPEND_NEW_TRANSACTIONS, [recorded_at, *columns])
                driver.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(Exception):  # a lost connection is replaced by the caller's WriterConnection
                driver.rollback()
                driver.autocommit = False
            if driver.broken or driver.closed:  # COMMIT was in the pipeline: it may have happened
                raise CommitInDoubt(str(exc)) from exc
            raise
        driver.autocommit = False
        row = inserted.fetchone()
        last = None if row is None else row[0]
        return None if last is None else list(range(last - len(rows) + 1, last + 1))

    def continue_positions_after_copy(self, conn: Connection) -> None:
        # The identity sequence has not moved, so the next append would collide with position 1.
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('events', 'position'), "
                             "(SELECT max(position) FROM events)) WHERE EXISTS (SELECT 1 FROM events)")

    def refresh_statistics(self, engine: Engine) -> None:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE events, labels")

    # -- predictions and alerts -----------------------------------------------------------------------

    def insert_prediction_rows(self, conn: Connection, rows: Sequence[NewPrediction]) -> None:
        with _driver(conn).cursor() as cursor:
            cursor.execute(_INSERT_PREDICTION_ARRAYS, _column_arrays(rows, PREDICTION_COLUMNS, PREDICTION_JSON))

    def insert_alert_rows(self, conn: Connection, rows: Sequence[OutboxRow]) -> set[str]:
        with _driver(conn).cursor() as cursor:
            cursor.execute(_INSERT_ALERT_ARRAYS, _column_arrays(rows, ALERT_COLUMNS, ("payload",)))
            return {str(alert_id) for (alert_id,) in cursor.fetchall()}

    def insert_member_rows(self, conn: Connection, rows: Sequence[MemberRow]) -> set[str]:
        with _driver(conn).cursor() as cursor:
            cursor.execute(_INSERT_MEMBER_ARRAYS, _column_arrays(rows, MEMBER_COLUMNS, ()))
            return {str(transaction_id) for (transaction_id,) in cursor.fetchall()}

    # -- a scoring batch ------------------------------------------------------------------------------

    def read_scoring_batch(self, conn: Connection, positions: Sequence[int], roles_after: int) -> ScoringRows:
        # From here until the connection goes back to the pool it runs outside transactions: each read is one
        # statement and sees the log as of its start (READ COMMITTED alike), so the four need no BEGIN and
        # ROLLBACK of their own, and go in one pipeline, one round trip where those took one each.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":  # set once per connection
            conn.execution_options(isolation_level="AUTOCOMMIT")
        driver = _driver(conn)
        wanted = list(positions)
        with driver.pipeline():
            transactions = driver.execute(_TRANSACTIONS_AT.sql, _TRANSACTIONS_AT.bound(positions=wanted))
            role_changes = driver.execute(_ROLE_CHANGES_THROUGH_NEWEST.sql,
                                          _ROLE_CHANGES_THROUGH_NEWEST.bound(after=roles_after))
            scored = driver.execute(SCORED_AT, {"positions": wanted})
            suppressions = driver.execute(_SUPPRESSIONS_AT.sql, _SUPPRESSIONS_AT.bound(positions=wanted))
        return ScoringRows(transactions.fetchall(), role_changes.fetchall(), scored.fetchall(), suppressions.fetchall())

    def write_scoring_batch(self, conn: Connection, prediction_rows: Sequence[NewPrediction],
                            alert_rows: Sequence[OutboxRow], member_rows: Sequence[MemberRow] = (),
                            ) -> set[str]:
        # BEGIN, the inserts and COMMIT in one pipeline. A failed insert makes the server skip the rest of the
        # pipeline, COMMIT included, and the transaction is rolled back: nothing of the batch is stored.
        driver = _driver(conn)
        predictions, alerts, members = driver.cursor(), driver.cursor(), driver.cursor()
        try:
            with driver.pipeline():
                driver.execute("BEGIN")
                if prediction_rows:
                    predictions.execute(_INSERT_PREDICTION_ARRAYS,
                                        _column_arrays(prediction_rows, PREDICTION_COLUMNS, PREDICTION_JSON))
                if alert_rows:
                    alerts.execute(_INSERT_ALERT_ARRAYS, _column_arrays(alert_rows, ALERT_COLUMNS, ("payload",)))
                if member_rows:
                    members.execute(_INSERT_MEMBER_ARRAYS, _column_arrays(member_rows, MEMBER_COLUMNS, ()))
                driver.execute("COMMIT")
            inserted = {str(alert_id) for (alert_id,) in alerts.fetchall()} if alert_rows else set()
            if member_rows:
                inserted = {str(transaction_id) for (transaction_id,) in members.fetchall()}
        except BaseException:
            with contextlib.suppress(Exception):
                driver.rollback()  # ends the transaction the pipeline left failed
            raise
        finally:
            predictions.close()
            alerts.close()
            members.close()
        conn.commit()  # SQLAlchemy's own record of a transaction (reads since the batch's); sends nothing
        return inserted

    # -- snapshots and locks --------------------------------------------------------------------------

    def begin_read_only(self, conn: Connection) -> Connection:
        return conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)

    def end_read_only(self, conn: Connection) -> None:
        """Nothing to undo: SQLAlchemy resets the isolation when the connection goes back to the pool."""

    @contextmanager
    def hold_deployment_lock(self, engine: Engine, *, key: int, name: str) -> Iterator[StillHeld | None]:
        with engine.connect() as conn:
            if not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar():
                yield None
                return

            def still_held() -> bool:
                try:
                    return bool(conn.exec_driver_sql(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        f"AND pid = pg_backend_pid() AND objid = {key & 0xFFFFFFFF}").scalar())
                except Exception:
                    return False

            try:
                yield still_held
            finally:
                with contextlib.suppress(Exception):
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")


def _configure(dbapi_connection: Any, _record: Any) -> None:
    # psycopg hands a timestamptz back in the session's time zone, and for a zone named "UTC" that is `datetime.UTC`
    # itself: every time read is then already as the store holds times, whatever the server's default zone, and a
    # hot read can skip the per-row conversion (`utc_times`).
    dbapi_connection.execute("SET TimeZone = 'UTC'")
    # The hot statements have one shape whatever their batch (`one_of`, the unnest inserts), so psycopg prepares
    # them, and after five runs Postgres may switch a prepared statement to a generic plan, made for no particular
    # array. One made while the log was nearly empty scanned the whole card index for every duplicate lookup:
    # 68 ms per append at 30,000 events, growing with the log. A plan per execution keeps the index lookups; the
    # statements are still parsed only once.
    dbapi_connection.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


POSTGRES = PostgresBackend()
