"""Appending many log rows fast, per backend: the one hot write path that bypasses SQLAlchemy's binds.

Through SQLAlchemy, a 1,000-row INSERT ... RETURNING becomes one statement with 8,000 placeholders that
psycopg parses in Python on every call (it caches only short queries), and on SQLite every row goes
through per-column bind processors. Here Postgres gets psycopg's pipelined `executemany(returning=True)`
of one short, cached statement, and SQLite gets the driver's `executemany`; both run inside the caller's
SQLAlchemy transaction, so the log's lock and atomicity are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

COLUMNS = ("event_type", "transaction_id", "card_id", "event_time", "recorded_at", "digest", "payload")
_encode = msgspec.json.Encoder().encode


def insert_events(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> list[int]:
    """Insert rows (values in COLUMNS order, payload a dict) and return their positions, in order."""
    if conn.dialect.name == "postgresql":
        return _insert_postgres(conn, rows)
    return _insert_sqlite(conn, rows)


def _insert_postgres(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> list[int]:
    from psycopg.types.json import Jsonb

    sql = (f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
           "RETURNING position")
    driver = conn.connection.driver_connection
    positions: list[int] = []
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.executemany(sql, [(*row[:-1], Jsonb(row[-1], dumps=_dumps)) for row in rows], returning=True)
        while True:
            positions.append(int(cursor.fetchone()[0]))
            if not cursor.nextset():
                break
    return positions


def _insert_sqlite(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> list[int]:
    # Under BEGIN IMMEDIATE this connection is the only writer, and an INTEGER PRIMARY KEY without
    # AUTOINCREMENT takes max(rowid) + 1, so the positions are known without RETURNING (which the
    # driver's executemany refuses).
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    start = int(cursor.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0])
    cursor.executemany(
        f"INSERT INTO events (position, {', '.join(COLUMNS)}) VALUES (?, {', '.join(['?'] * len(COLUMNS))})",
        [(start + i, row[0], row[1], row[2], _sqlite_time(row[3]), _sqlite_time(row[4]), row[5],
          _dumps(row[6])) for i, row in enumerate(rows, start=1)])
    cursor.close()
    return list(range(start + 1, start + 1 + len(rows)))


PREDICTION_COLUMNS = ("transaction_id", "model_version", "position", "champion", "score", "threshold", "features",
                      "event_time", "recorded_at", "scored_at")


def insert_predictions_ignoring_existing(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert prediction rows, skipping any (transaction, version) already present (ON CONFLICT DO NOTHING)."""
    placeholders = ", ".join(["%s" if conn.dialect.name == "postgresql" else "?"] * len(PREDICTION_COLUMNS))
    sql = (f"INSERT INTO predictions ({', '.join(PREDICTION_COLUMNS)}) VALUES ({placeholders}) "
           "ON CONFLICT (transaction_id, model_version) DO NOTHING")
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if conn.dialect.name == "postgresql":
        from psycopg.types.json import Jsonb

        cursor.executemany(sql, [tuple(Jsonb(r[c], dumps=_dumps) if c == "features" else r[c]
                                       for c in PREDICTION_COLUMNS) for r in rows])
    else:
        cursor.executemany(sql, [tuple(_sqlite_value(c, r[c]) for c in PREDICTION_COLUMNS) for r in rows])
    cursor.close()


def _sqlite_value(column: str, value: Any) -> Any:
    if column == "features":
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
