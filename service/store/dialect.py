"""The one place where Postgres and SQLite differ. Every other store module is written once for both.

The differences, and why each exists:

- **Connection set-up.** SQLite gets WAL, `synchronous=FULL` (an acknowledged append survives power loss),
  foreign keys and a busy timeout on every connection, and writers open with `BEGIN IMMEDIATE`, so they queue
  on the busy timeout instead of failing with SQLITE_BUSY halfway through. Postgres gets a pool that pings
  each connection it hands out, and the scorer a second one that does not (`engine_without_ping`): its batches
  notice a dropped connection themselves and run again (`engine.PinglessConnections`).
- **Serialising appends to the log** (invariant 2): `LOCK TABLE events IN EXCLUSIVE MODE` with a lock timeout
  on Postgres; on SQLite `BEGIN IMMEDIATE` already admits a single writer.
- **INSERT ... ON CONFLICT** is spelled by each dialect's own `insert` construct.
- **Bulk inserts** of the two hot paths (log rows, prediction rows) go to the driver directly: on Postgres
  log rows at positions read from the identity sequence under the log's lock (one `INSERT ... SELECT FROM
  unnest(arrays)` sent with the sequence's `setval` in one pipeline, or COPY above `COPY_FROM_ROWS`), and
  predictions from arrays too; sqlite3's `executemany` on SQLite. Through SQLAlchemy a 1,000-row INSERT
  ... RETURNING is one statement with 8,000 placeholders that psycopg parses in Python on every call, and on
  SQLite every row goes through per-column bind processors. Both run inside the caller's SQLAlchemy
  transaction, so the log's lock and atomicity are unchanged. The append's lock, duplicate lookup and
  next position go in one pipeline on Postgres (`lock_and_find_transactions`): an append of a few rows is
  three round trips in all (lock and look up; insert and move the sequence; COMMIT).
- **Read-only snapshots**: REPEATABLE READ READ ONLY on Postgres, `PRAGMA query_only` on SQLite (where WAL
  already gives a deferred read transaction its snapshot). Both make the database refuse a write.
- **Identity after an explicit-position copy**: Postgres' sequence must be moved past the copied log; SQLite
  continues after the largest rowid by itself.
- **Timestamps**: Postgres stores TIMESTAMPTZ (and every session runs in UTC, so the driver returns UTC times
  as they are); SQLite has no such type and stores naive UTC text, so the seconds between two of them are
  `EXTRACT(EPOCH FROM ...)` on one and a `julianday` difference on the other.
- **Reading a few JSON values per row** (a history row's categorical attributes): Postgres hands JSONB back
  decoded by psycopg; SQLite's `json_extract` is used bare, since it already returns a JSON string as text and a
  number as a number, where SQLAlchemy's generic path would re-quote each value and decode it again in Python.
- **Matching a column against a batch of values** (`one_of`): `= ANY(array)` on Postgres, one bound array, so
  the statement has one shape whatever the batch's size (an expanding IN is a new statement with a
  placeholder per value, which psycopg parses in Python on every call); `IN (SELECT value FROM json_each(?))`
  on SQLite, one bound JSON array.
- **Inserting prediction rows** (`insert_prediction_rows_ignoring_existing`): on Postgres one
  `INSERT ... SELECT FROM unnest(arrays)`, one array per column, so one fixed-shape statement that psycopg
  prepares; SQLite's `executemany` already runs in C.
- **A scoring batch's transactions** (`scoring_connection`, `read_scoring_batch`, `end_scoring_reads`,
  `insert_scores_and_commit`): on Postgres the scorer's connection runs in autocommit, its reads (the batch's
  transactions, the role changes, the predictions already stored) go in one pipeline outside any transaction,
  and its writes spell out BEGIN, both inserts and COMMIT in another pipeline: two round trips where there were
  nine, since psycopg sends a BEGIN of its own alone even in a pipeline. SQLite reads in a deferred transaction
  and writes in a BEGIN IMMEDIATE one, the same statements one after another.
- **Planner statistics after a bulk load** (`refresh_statistics`): `ANALYZE` on Postgres; nothing on SQLite.
- **One scheduler per deployment**: a session advisory lock on Postgres, an exclusive lock on a file beside
  the database on SQLite (`hold_deployment_lock`).

Column types that differ (JSONB or JSON text, BIGINT or INTEGER rowid) are declared in `tables.py` with
SQLAlchemy's `with_variant`, which is a declaration, not a branch.

Driver errors are mapped to the store's own in `service.store.errors`, the same way for both.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, RootTransaction

from service.config import is_sqlite
from service.domain.events import EVENT_PROMOTION, EVENT_RETIREMENT, EVENT_TRANSACTION

POSTGRES = "postgresql"
SQLITE = "sqlite"
LOCK_TIMEOUT = "5s"
# The insert construct that knows ON CONFLICT, per dialect.
_INSERTS: dict[str, Callable[[sa.Table], Any]] = {POSTGRES: postgresql.insert, SQLITE: sqlite.insert}

EVENT_COLUMNS = ("event_type", "transaction_id", "card_id", "event_time", "recorded_at", "digest", "payload")
PREDICTION_COLUMNS = ("transaction_id", "model_version", "position", "champion", "score", "threshold", "features",
                      "event_time", "recorded_at", "scored_at", "environment_drift")
_PREDICTION_JSON = ("features", "environment_drift")  # environment_drift: None unless scored under allowed drift

Built = TypeVar("Built")
_encode = msgspec.json.Encoder().encode


def is_postgres(bind: Connection | Engine) -> bool:
    return bind.dialect.name == POSTGRES


# -- engines ------------------------------------------------------------------------------------------

def build_engine(url: str, json_serializer: Callable[[Any], str], **kwargs: Any) -> Engine:
    """An engine for `url` (already normalised) with the backend's connection set-up."""
    if is_sqlite(url):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                                  json_serializer=json_serializer, **kwargs)
        _configure_sqlite(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(url, json_serializer=json_serializer, **kwargs)
    _configure_postgres(engine)
    return engine


def engine_without_ping(engine: Engine, json_serializer: Callable[[Any], str]) -> Engine:
    """An engine on `engine`'s database whose pool hands connections out without pinging each (a round trip),
    for work that notices a dropped connection itself and runs again (`engine.PinglessConnections`). On
    SQLite `engine` itself: its pool never pings (a file does not drop connections)."""
    if not is_postgres(engine):
        return engine
    return build_engine(engine.url.render_as_string(hide_password=False), json_serializer, pool_pre_ping=False)


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # psycopg hands a timestamptz back in the session's time zone, and for a zone named "UTC" that is
        # `datetime.UTC` itself: every time read is then already as the store holds times, whatever the
        # server's default zone, and a hot read can skip the per-row conversion (`utc_times`).
        dbapi_connection.execute("SET TimeZone = 'UTC'")
        # The hot statements have one shape whatever their batch (`one_of`, the unnest inserts), so psycopg
        # prepares them, and after five runs Postgres may switch a prepared statement to a generic plan, made
        # for no particular array. One made while the log was nearly empty scanned the whole card index for
        # every duplicate lookup: 68 ms per append at 30,000 events, growing with the log. A plan per
        # execution keeps the index lookups; the statements are still parsed only once.
        dbapi_connection.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_connection.commit()


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


# -- statements ---------------------------------------------------------------------------------------

def json_values_at(conn: Connection, column: Any, key: str, names: Sequence[str]) -> list[Any]:
    """Select expressions for `column[key][name]`, one per name, each read back as text, a number or None."""
    if is_postgres(conn):
        return [column[(key, name)] for name in names]
    return [sa.func.json_extract(column, f'$."{key}"."{name}"') for name in names]


def one_of(conn: Connection, column: sa.ColumnElement[Any], values: Sequence[Any],
           element_type: sa.types.TypeEngine[Any]) -> sa.ColumnElement[bool]:
    """`column IN values`, as a statement of one shape whatever the number of values (see the module's notes).

    `element_type` is the values' SQL type (the array's element type on Postgres)."""
    if is_postgres(conn):
        return column == sa.any_(sa.literal(list(values), postgresql.ARRAY(element_type)))
    members = sa.func.json_each(sa.literal(_dumps(list(values)), sa.Text)).table_valued("value")
    return column.in_(sa.select(members.c.value))


def insert_for(conn: Connection, table: sa.Table) -> Any:
    """An INSERT into `table` that knows ON CONFLICT, for whichever backend `conn` talks to."""
    return _INSERTS[conn.dialect.name](table)


def per_dialect(build: Callable[[Callable[[sa.Table], Any]], Built]) -> Callable[[Connection], Built]:
    """A statement built once per backend from its ON CONFLICT-aware insert; call the result with a connection
    to get the one for its backend. For statements on a hot path, which should not be rebuilt per call."""
    built = {name: build(insert) for name, insert in _INSERTS.items()}
    return lambda conn: built[conn.dialect.name]


class LogHead(NamedTuple):
    """What an append learns under the log's lock: the position its first event takes, and the time it stamps
    as recorded_at. On Postgres the time is the database's clock, so recorded_at grows with the position
    whichever API host appends (and whichever path it takes: `append_new_transactions` reads the same clock)."""

    next_position: int
    now: datetime


def lock_event_log(conn: Connection) -> LogHead:
    """Serialise appends so log positions become visible in the order they are handed out; returns the
    position the next appended event takes and the time to stamp.

    Postgres hands out identity values at INSERT but they become visible at COMMIT; without this a reader
    tailing `position > last` could pass a row that commits later with a lower number (invariant 2).
    EXCLUSIVE mode still lets readers read. SQLite needs nothing: BEGIN IMMEDIATE already admits one writer.
    The next position is read under the lock, so nobody else can take it before this transaction commits.
    """
    if not is_postgres(conn):
        return _log_head_sqlite(conn)
    driver = conn.connection.driver_connection
    with driver.pipeline():  # type: ignore[union-attr]
        _queue_lock(driver)
        following = driver.execute(_NEXT_POSITION)  # type: ignore[union-attr]
    return _log_head(following.fetchone())


_SET_LOCK_TIMEOUT = f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"
_LOCK_EVENTS = "LOCK TABLE events IN EXCLUSIVE MODE"


def _queue_lock(driver: Any) -> None:
    """The log's lock, under its timeout, queued in the caller's pipeline."""
    driver.execute(_SET_LOCK_TIMEOUT)
    driver.execute(_LOCK_EVENTS)
_KNOWN_TRANSACTIONS = ("SELECT transaction_id, digest, position FROM events "
                       "WHERE event_type = 'transaction' AND transaction_id = ANY(%s)")
# The identity sequence of events.position (migration 0001 names none, so Postgres names it after the column;
# test_event_log.py checks the name against pg_get_serial_sequence). Appends read it under the log's lock and move it
# with setval when they insert, instead of drawing with nextval: one round trip fewer per append.
POSITION_SEQUENCE = "events_position_seq"
_NEXT_POSITION = ("SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END, clock_timestamp() "
                  f"FROM {POSITION_SEQUENCE}")
_MOVE_POSITIONS = f"SELECT setval('{POSITION_SEQUENCE}', %s)"


def lock_and_find_transactions(conn: Connection, transaction_ids: Sequence[str],
                               find: Callable[[Connection, Sequence[str]], list[tuple[str, str, int]]],
                               ) -> tuple[list[tuple[str, str, int]], LogHead]:
    """`lock_event_log`, then which of `transaction_ids` the log holds as transactions: (id, digest, position),
    and the log's head (the position the next appended event takes, the time to stamp).

    On Postgres the four statements go in one pipeline (one round trip), the lookup in one fixed-shape
    statement (`= ANY(array)`, not an IN list whose shape changes with every group), so the driver prepares
    it once per connection. `find` is the portable lookup, for SQLite.
    """
    if not is_postgres(conn):
        return find(conn, transaction_ids), _log_head_sqlite(conn)
    driver = conn.connection.driver_connection
    with driver.pipeline():  # type: ignore[union-attr]
        _queue_lock(driver)
        found = driver.execute(_KNOWN_TRANSACTIONS, (list(transaction_ids),))  # type: ignore[union-attr]
        following = driver.execute(_NEXT_POSITION)  # type: ignore[union-attr]
    return [(tx, digest, int(position)) for tx, digest, position in found.fetchall()], _log_head(following.fetchone())


def _log_head(row: Any) -> LogHead:
    return LogHead(int(row[0]), row[1])


# Whether a statement that commits on its own (`append_new_transactions`) is in flight on this thread's
# connection: if the connection is lost then, the COMMIT may or may not have happened, so `WriterConnection` must
# not run the work again. Per thread, as a writer connection is used by one thread; not on the connection,
# whose state SQLAlchemy no longer lets anyone read once it has seen it fail.
_commit_state = threading.local()


def commit_in_flight() -> bool:
    return bool(getattr(_commit_state, "active", False))


def mark_commit_in_flight(active: bool) -> None:
    _commit_state.active = active


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


def append_new_transactions(conn: Connection, rows: Sequence[tuple[str, str | None, datetime | None, str, str]],
                            recorded_at: datetime | None) -> list[int] | None:
    """Append transactions (transaction_id, card_id, event_time, digest, payload JSON; ids distinct) and COMMIT,
    in one round trip on Postgres; their positions, in order. None when the log holds one of the ids already:
    then nothing was stored, and the caller looks them up (`EventLog._append`).

    The connection's transaction ends here: a caller's later commit finds nothing to do. Postgres only.
    """
    driver: Any = conn.connection.driver_connection
    columns = [list(column) for column in zip(*rows, strict=True)]
    # BEGIN spelled out in the pipeline: in a transaction of its own making psycopg sends BEGIN alone, one more
    # round trip (see `insert_scores_and_commit`).
    driver.autocommit = True
    mark_commit_in_flight(True)
    try:
        with driver.pipeline():
            driver.execute("BEGIN")
            _queue_lock(driver)
            inserted = driver.execute(_APPEND_NEW_TRANSACTIONS, [recorded_at, *columns])
            driver.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):  # a lost connection is replaced by the caller's WriterConnection
            driver.rollback()
            driver.autocommit = False
        raise
    driver.autocommit = False
    mark_commit_in_flight(False)
    last = inserted.fetchone()[0]
    return None if last is None else list(range(last - len(rows) + 1, last + 1))


def _log_head_sqlite(conn: Connection) -> LogHead:
    # Under BEGIN IMMEDIATE this connection is the only writer, and an INTEGER PRIMARY KEY without
    # AUTOINCREMENT takes max(rowid) + 1. The embedded database is in this process: its clock is ours.
    next_position = int(conn.exec_driver_sql("SELECT coalesce(max(position), 0) + 1 FROM events").scalar_one())
    return LogHead(next_position, datetime.now(UTC))


def continue_positions_after_copy(conn: Connection) -> None:
    """After rows were inserted into `events` with explicit positions, make the next append follow them.

    Postgres' identity sequence has not moved, so the next append would collide with position 1; SQLite
    continues after the largest rowid by itself.
    """
    if is_postgres(conn):
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('events', 'position'), "
                             "(SELECT max(position) FROM events)) WHERE EXISTS (SELECT 1 FROM events)")


def refresh_statistics(engine: Engine) -> None:
    """Let the query planner see the log as it is now (Postgres: `ANALYZE` of the tables a bulk load filled).
    SQLite plans without statistics unless told to gather them, and its plans here do not need them."""
    if is_postgres(engine):
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE events, labels")


def utc_times(conn: Connection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A UTC timestamp column as a hot read selects it. On Postgres the driver already returns `datetime.UTC`
    times (the session's zone is UTC, `build_engine`), so the per-row conversion of `UTCDateTime` is skipped;
    SQLite stores naive text, which only that conversion makes aware."""
    if is_postgres(conn):
        return sa.type_coerce(column, sa.DateTime(timezone=True))
    return column


def utc_for_column(moment: datetime, sa_dialect: sa.Dialect) -> datetime:
    """An aware UTC datetime as the backend's timestamp column takes it: as is on Postgres, naive on SQLite
    (whose fixed-width text format sorts in time order; `UTCDateTime` puts the offset back when reading)."""
    return moment.replace(tzinfo=None) if sa_dialect.name == SQLITE else moment


def seconds_between(bind: Connection | Engine, later: sa.ColumnElement[Any],
                    earlier: sa.ColumnElement[Any]) -> sa.ColumnElement[float]:
    """`later - earlier` in seconds, as a SQL expression (for aggregates computed in the database)."""
    if is_postgres(bind):
        return sa.cast(sa.extract("epoch", later - earlier), sa.Float)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86_400.0


# -- one holder per deployment (the scheduler, the lifecycle) ------------------------------------------

@contextmanager
def hold_deployment_lock(engine: Engine, *, key: int, sqlite_lock_path: str) -> Iterator[Callable[[], bool] | None]:
    """Hold the deployment-wide lock `key` for as long as the block runs; yield None if another holds it.

    Inside the block, the yielded check says whether the lock is still held: a Postgres session lock vanishes
    with its session (a database restart, a killed backend), and a holder that lost it must stop. On SQLite
    the lock is an exclusive `flock` on `sqlite_lock_path`, which lives as long as this process.
    """
    if not is_postgres(engine):
        with open(sqlite_lock_path, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            yield lambda: True
        return
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


# -- read-only snapshots ------------------------------------------------------------------------------

def begin_read_only(conn: Connection) -> Connection:
    """Prepare `conn` for a read-only transaction that sees one snapshot; the caller then begins it.
    Returns the connection to begin (Postgres sets the isolation on a copy of its options)."""
    if is_postgres(conn):
        return conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    _set_query_only(conn, True)
    return conn


def end_read_only(conn: Connection) -> None:
    """Undo `begin_read_only` after the transaction ended, before the connection goes back to the pool."""
    if not is_postgres(conn):
        _set_query_only(conn, False)


def _set_query_only(conn: Connection, on: bool) -> None:
    conn.exec_driver_sql(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
    conn.commit()  # SQLAlchemy began a transaction for the pragma; the snapshot's own begins after it


# -- bulk inserts through the driver ------------------------------------------------------------------

def insert_event_rows(conn: Connection, rows: Sequence[tuple[Any, ...]], first_position: int) -> list[int]:
    """Insert log rows (values in EVENT_COLUMNS order, the payload as its JSON text) at positions
    `first_position`, `first_position + 1`, ...; returns those positions. The caller holds the log's lock and
    took `first_position` from it (`lock_event_log`, `lock_and_find_transactions`)."""
    positions = list(range(first_position, first_position + len(rows)))
    if not rows:
        return positions
    if is_postgres(conn):
        _insert_events_postgres(conn, rows, positions)
    else:
        _insert_events_sqlite(conn, rows, positions)
    return positions


_COPY_EVENTS = f"COPY events (position, {', '.join(EVENT_COLUMNS)}) FROM STDIN"
_EVENT_ARRAY_TYPES = {"position": "int8", "event_type": "text", "transaction_id": "text", "card_id": "text",
                      "event_time": "timestamptz", "recorded_at": "timestamptz", "digest": "text", "payload": "text"}
# Up to this many rows an append is one INSERT from arrays, sent in one pipeline with the sequence's move; above
# it COPY, which costs two more round trips but a third of the CPU per row in Python and on the server.
COPY_FROM_ROWS = 64


def _insert_events_postgres(conn: Connection, rows: Sequence[tuple[Any, ...]], positions: list[int]) -> None:
    # The positions were read from the log's identity sequence under the log's lock, and the rows commit under
    # the same lock, so positions still become visible in the order they were handed out (invariant 2); the
    # sequence is moved past them before COMMIT. The payload goes as the canonical JSON text the digest was
    # computed over: nothing is encoded twice.
    driver = conn.connection.driver_connection
    if len(rows) <= COPY_FROM_ROWS:
        columns = [positions, *(list(column) for column in zip(*rows, strict=True))]
        with driver.pipeline():  # type: ignore[union-attr]
            driver.execute(_INSERT_EVENT_ARRAYS, columns)  # type: ignore[union-attr]
            driver.execute(_MOVE_POSITIONS, (positions[-1],))  # type: ignore[union-attr]
        return
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy(_COPY_EVENTS) as copy:
            for position, row in zip(positions, rows, strict=True):
                copy.write_row((position, *row))
        cursor.execute(_MOVE_POSITIONS, (positions[-1],))


def _insert_events_sqlite(conn: Connection, rows: Sequence[tuple[Any, ...]], positions: list[int]) -> None:
    placeholders = ", ".join(["?"] * len(EVENT_COLUMNS))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.executemany(
        f"INSERT INTO events (position, {', '.join(EVENT_COLUMNS)}) VALUES (?, {placeholders})",
        [(position, row[0], row[1], row[2], _sqlite_time(row[3]), _sqlite_time(row[4]), row[5], row[6])
         for position, row in zip(positions, rows, strict=True)])
    cursor.close()


def insert_prediction_rows_ignoring_existing(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert prediction rows, skipping any (transaction, version) already present (ON CONFLICT DO NOTHING)."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if is_postgres(conn):
        cursor.execute(_INSERT_PREDICTION_ARRAYS, _column_arrays(rows, PREDICTION_COLUMNS, _PREDICTION_JSON))
    else:
        placeholders = ", ".join(["?"] * len(PREDICTION_COLUMNS))
        cursor.executemany(f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) VALUES ({placeholders}) "
                           "ON CONFLICT (transaction_id, model_version) DO NOTHING",
                           [tuple(_sqlite_value(c, r.get(c)) for c in PREDICTION_COLUMNS) for r in rows])
    cursor.close()


# One array per column, so the statement has one shape whatever the batch's size and psycopg prepares it once
# per connection; executemany sent a statement per row, each with its values dumped in Python, and through
# SQLAlchemy the alerts' statement changed with every batch's alert count, so psycopg parsed each anew (a quarter
# of a scoring batch's time at a 5 % alert rate). The arrays go in binary (`%b`): in text, psycopg quotes every
# element of a text array in Python. JSON columns travel as text (encoded by msgspec, as before) and are cast in
# the database, which parses them exactly as it parsed a Jsonb parameter.
def _unnest_insert(table: str, types: dict[str, str], json_columns: Sequence[str], tail: str) -> str:
    columns = ", ".join(types)
    return (f"INSERT INTO {table} ({columns}) "
            f"SELECT {', '.join(c + '::jsonb' if c in json_columns else c for c in types)} "
            f"FROM unnest({', '.join(f'%b::{sql_type}[]' for sql_type in types.values())}) AS row ({columns}) {tail}")


def _column_arrays(rows: Sequence[dict[str, Any]], columns: Sequence[str], json_columns: Sequence[str],
                   ) -> list[list[Any]]:
    return [[None if value is None else _dumps(value) for value in (r.get(column) for r in rows)]
            if column in json_columns else [r.get(column) for r in rows]
            for column in columns]


_PREDICTION_ARRAY_TYPES = {"transaction_id": "text", "model_version": "int4", "position": "int8", "champion": "bool",
                           "score": "float8", "threshold": "float8", "features": "text", "event_time": "timestamptz",
                           "recorded_at": "timestamptz", "scored_at": "timestamptz", "environment_drift": "text"}
_INSERT_EVENT_ARRAYS = _unnest_insert("events", _EVENT_ARRAY_TYPES, ("payload",), "")
_INSERT_PREDICTION_ARRAYS = _unnest_insert("predictions", _PREDICTION_ARRAY_TYPES, _PREDICTION_JSON,
                                           "ON CONFLICT (transaction_id, model_version) DO NOTHING")

_ALERT_ARRAY_TYPES = {"id": "text", "aggregatetype": "text", "aggregateid": "text", "type": "text",
                      "payload": "text", "transaction_id": "text", "card_id": "text", "score": "float8",
                      "threshold": "float8", "model_version": "int4", "position": "int8",
                      "created_at": "timestamptz", "status": "text", "attempts": "int4",
                      "available_at": "timestamptz", "sent_at": "timestamptz", "last_error": "text"}
ALERT_COLUMNS = tuple(_ALERT_ARRAY_TYPES)
_INSERT_ALERT_ARRAYS = _unnest_insert("alerts", _ALERT_ARRAY_TYPES, ("payload",),
                                      "ON CONFLICT (transaction_id) DO NOTHING RETURNING id")


def insert_alert_rows_returning_new(conn: Connection, rows: Sequence[dict[str, Any]],
                                    portable: Callable[[Connection, Sequence[dict[str, Any]]], set[str]],
                                    ) -> set[str]:
    """Insert outbox rows (values under ALERT_COLUMNS' names), skipping transactions that have an alert
    (ON CONFLICT DO NOTHING on the unique transaction id); the ids of the rows inserted. `portable` is the
    SQLAlchemy way, for SQLite."""
    if not is_postgres(conn):
        return portable(conn, rows)
    with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(_INSERT_ALERT_ARRAYS, _column_arrays(rows, ALERT_COLUMNS, ("payload",)))
        return {str(alert_id) for (alert_id,) in cursor.fetchall()}


def _sqlite_value(column: str, value: Any) -> Any:
    if column in _PREDICTION_JSON and value is not None:
        return _dumps(value)
    if isinstance(value, datetime):
        return _sqlite_time(value)
    return value


def _dumps(value: Any) -> str:
    return _encode(value).decode()


def _sqlite_time(moment: datetime | None) -> str | None:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC), so both paths read back alike."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


# -- a scoring batch's round trips ----------------------------------------------------------------------

class ScoringRows(NamedTuple):
    """What a scoring batch reads before it scores, as rows of the same shape on both backends."""

    transactions: list[tuple[int, datetime, str]]  # (position, recorded_at, payload as JSON text), by position
    role_changes: list[tuple[int, int | None, str | None]]  # (newest position, position, payload text): roles.py
    scored: list[tuple[str, int]]  # (transaction_id, model_version) of the predictions already stored


_TRANSACTIONS_AT = (f"SELECT position, recorded_at, payload::text FROM events "
                    f"WHERE position = ANY(%s::int8[]) AND event_type = '{EVENT_TRANSACTION}' ORDER BY position")
# `roles.ROLE_CHANGES_THROUGH_NEWEST`, spelled for the driver.
_ROLE_CHANGES_THROUGH_NEWEST = (
    "SELECT newest.position, e.position, e.payload::text "
    "FROM (SELECT coalesce(max(position), 0) AS position FROM events) AS newest "
    f"LEFT JOIN events AS e ON e.event_type IN ('{EVENT_PROMOTION}', '{EVENT_RETIREMENT}') "
    "AND e.position > %s AND e.position <= newest.position ORDER BY e.position")
# Keyed by transaction id as `predictions.existing_predictions` is, through the log's own id of each position: one
# primary-key lookup per transaction, whatever the planner believes of the table. Written as a plain join, a
# deployment whose predictions table had no statistics yet (autovacuum had not analysed it) got a hash join over
# a scan of the whole table, 11-24 ms per batch at 20,000 predictions and growing, where these lookups take
# 0.4 ms. OFFSET 0 keeps the planner from flattening the lookup back into that join.
_SCORED_AT = ("SELECT p.transaction_id, p.model_version FROM events AS e CROSS JOIN LATERAL ("
              "SELECT transaction_id, model_version FROM predictions WHERE transaction_id = e.transaction_id OFFSET 0) "
              f"AS p WHERE e.position = ANY(%s::int8[]) AND e.event_type = '{EVENT_TRANSACTION}'")


def read_scoring_batch(conn: Connection, positions: Sequence[int], roles_after: int,
                       portable: Callable[[Connection, Sequence[int], int], ScoringRows]) -> ScoringRows:
    """The transactions at `positions`, the role changes after `roles_after` up to the log's newest position
    (and that position), and the predictions already stored for those transactions.

    On Postgres the three queries go in one pipeline outside any transaction (`scoring_connection`): one round
    trip where BEGIN, each query and ROLLBACK took one each. `portable` is the SQLAlchemy way, for SQLite.
    """
    if not is_postgres(conn):
        return portable(conn, positions, roles_after)
    driver = conn.connection.driver_connection
    wanted = list(positions)
    with driver.pipeline():  # type: ignore[union-attr]
        transactions = driver.execute(_TRANSACTIONS_AT, (wanted,))  # type: ignore[union-attr]
        role_changes = driver.execute(_ROLE_CHANGES_THROUGH_NEWEST, (roles_after,))  # type: ignore[union-attr]
        scored = driver.execute(_SCORED_AT, (wanted,))  # type: ignore[union-attr]
    return ScoringRows(transactions.fetchall(), role_changes.fetchall(), scored.fetchall())


def insert_scores_and_commit(conn: Connection, prediction_rows: Sequence[dict[str, Any]],
                             alert_rows: Sequence[dict[str, Any]], writes: RootTransaction,
                             portable: Callable[[Connection], set[str]]) -> set[str]:
    """Insert prediction rows and outbox rows, each ignoring the keys that exist, in one transaction, and commit
    it; returns the ids of the alerts inserted.

    On Postgres the connection runs outside transactions (`scoring_connection`), so the transaction is spelled
    out in one pipeline: BEGIN, both inserts, COMMIT, one round trip where psycopg sent BEGIN, each insert and
    COMMIT alone. A failed insert makes the server skip the rest of the pipeline, COMMIT included, and the
    transaction is rolled back: nothing of the batch is stored. `writes` (SQLAlchemy's transaction, which sent
    nothing) ends with it. Elsewhere `portable` inserts both the SQLAlchemy way in `writes`, which commits.
    """
    if not is_postgres(conn):
        inserted = portable(conn)
        writes.commit()
        return inserted
    driver = conn.connection.driver_connection
    predictions, alerts = driver.cursor(), driver.cursor()  # type: ignore[union-attr]
    try:
        with driver.pipeline():  # type: ignore[union-attr]
            driver.execute("BEGIN")  # type: ignore[union-attr]
            if prediction_rows:
                predictions.execute(_INSERT_PREDICTION_ARRAYS,
                                    _column_arrays(prediction_rows, PREDICTION_COLUMNS, _PREDICTION_JSON))
            if alert_rows:
                alerts.execute(_INSERT_ALERT_ARRAYS, _column_arrays(alert_rows, ALERT_COLUMNS, ("payload",)))
            driver.execute("COMMIT")  # type: ignore[union-attr]
        inserted = {str(alert_id) for (alert_id,) in alerts.fetchall()} if alert_rows else set()
    except BaseException:
        with contextlib.suppress(Exception):
            driver.rollback()  # type: ignore[union-attr]  # ends the transaction the pipeline left failed
        raise
    finally:
        predictions.close()
        alerts.close()
    writes.commit()
    return inserted


def scoring_connection(conn: Connection) -> Connection:
    """`conn` set up for a scoring batch (`service.store.scoring_batch`).

    On Postgres, outside transactions (autocommit, until the connection goes back to the pool): the batch's
    reads need no transaction, each is one statement and sees the log as of its start (READ COMMITTED alike), and
    its writes spell their transaction out in their pipeline (`insert_scores_and_commit`), so psycopg sends no
    BEGIN of its own, which it sends alone even in a pipeline. SQLite keeps its transactions: a deferred one for
    the reads, and BEGIN IMMEDIATE for the writes.
    """
    if is_postgres(conn):
        return conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def end_scoring_reads(conn: Connection) -> None:
    """Called when a scoring batch has read, before it loads its model versions (and may record a refused one on
    another connection): SQLite ends the read transaction, so the writes begin anew with BEGIN IMMEDIATE; on
    Postgres the reads ran outside any transaction."""
    if not is_postgres(conn):
        conn.rollback()
