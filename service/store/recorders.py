"""What the store needs of a database backend, as small protocols; `postgres` and `sqlite` implement them all.

The rest of the store is written once for both backends and asks `backend.backend_for(bind)` for the part that
differs; nothing above the store learns which backend runs. Each backend module's docstring says how and why
it does what it does, with the measurements behind its optimisations.

Column types that differ (JSONB or JSON text, BIGINT or INTEGER rowid) are declared in `tables.py` with
SQLAlchemy's `with_variant`, which is a declaration, not a branch. Driver errors are mapped to the store's own
in `fraudlog.store.errors`, the same way for both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.records import NewPrediction
from fraudlog.store.rows import MemberRow, OutboxRow

# The columns of a log row as `insert_event_rows` takes them (the position is given apart).
EVENT_COLUMNS = ("event_type", "transaction_id", "card_id", "event_time", "recorded_at", "digest", "payload")
PREDICTION_COLUMNS = ("transaction_id", "model_version", "position", "champion", "score", "threshold", "features",
                      "event_time", "recorded_at", "scored_at", "environment_drift", "reasons", "suppressed_by")
# environment_drift: None unless scored under allowed drift; reasons: None unless the prediction alerted;
# suppressed_by: None unless a suppression held back its alert
PREDICTION_JSON = ("features", "environment_drift", "reasons")

# An INSERT that knows ON CONFLICT: each dialect has its own construct, with the same methods.
UpsertInsert = postgresql.Insert | sqlite.Insert
# (transaction_id, card_id, event_time, digest, payload JSON) of a transaction new to the log.
NewTransactionRow = tuple[str, str | None, datetime | None, str, str]
# Whether a deployment-wide lock is still held (a Postgres session lock vanishes with its session).
StillHeld = Callable[[], bool]


class LogHead(NamedTuple):
    """What an append learns under the log's lock: the position its first event takes, and the time it stamps
    as recorded_at. On Postgres the time is the database's clock, so recorded_at grows with the position
    whichever API host appends (and whichever path it takes)."""

    next_position: int
    now: datetime


class ScoringRows(NamedTuple):
    """What a scoring batch reads before it scores, as rows of the same shape on both backends."""

    transactions: list[tuple[int, datetime, str]]  # (position, recorded_at, payload as JSON text), by position
    role_changes: list[tuple[int, int | None, str | None]]  # (newest position, position, payload text): roles.py
    scored: list[tuple[str, int]]  # (transaction_id, model_version) of the predictions already stored
    suppressions: list[tuple[str, int, str]]  # (event type, position, payload text): `statements.suppressions_at`


class Connections(Protocol):
    """Engines with the backend's connection set-up."""

    def build_engine(self, url: str, json_serializer: Callable[[Any], str], **kwargs: Any) -> Engine:
        """An engine for `url` (already normalised) whose connections are set up for this backend."""

    def engine_without_ping(self, engine: Engine, json_serializer: Callable[[Any], str]) -> Engine:
        """An engine on `engine`'s database whose pool does not ping what it hands out (may be `engine`)."""


class SqlSpelling(Protocol):
    """SQL expressions each backend spells its own way, for statements written once in SQLAlchemy."""

    def insert(self, table: sa.Table) -> UpsertInsert:
        """An INSERT into `table` that knows ON CONFLICT."""

    def one_of(self, column: sa.ColumnElement[Any], values: Sequence[Any],
               element_type: sa.types.TypeEngine[Any]) -> sa.ColumnElement[bool]:
        """`column IN values`, as a statement of one shape whatever the number of values."""

    def json_values_at(self, column: Any, key: str, names: Sequence[str]) -> list[sa.ColumnElement[Any]]:
        """Select expressions for `column[key][name]`, one per name, each read back as text, a number or None."""

    def utc_times(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """A UTC timestamp column as a hot read selects it (aware UTC datetimes, as cheaply as may be)."""

    def seconds_between(self, later: sa.ColumnElement[Any], earlier: sa.ColumnElement[Any],
                        ) -> sa.ColumnElement[float]:
        """`later - earlier` in seconds, as a SQL expression."""


class LogRecorder(Protocol):
    """Appends to the event log, serialised so positions become visible in the order handed out (invariant 2)."""

    # The most rows `append_new_transactions` takes; 0 when the backend has no such path (the general one is as
    # cheap there).
    one_trip_append_rows: int

    def lock_event_log(self, conn: Connection) -> LogHead:
        """Take the log's lock in `conn`'s write transaction; the log's head under it."""

    def lock_and_find_transactions(self, conn: Connection, transaction_ids: Sequence[str],
                                   ) -> tuple[list[tuple[str, str, int]], LogHead]:
        """`lock_event_log`, and (id, digest, position) of the transactions among `transaction_ids` in the log."""

    def insert_event_rows(self, conn: Connection, rows: Sequence[tuple[Any, ...]], first_position: int,
                          ) -> list[int]:
        """Insert log rows (EVENT_COLUMNS order, payload as JSON text) from `first_position` on, under the lock."""

    def append_new_transactions(self, conn: Connection, rows: Sequence[NewTransactionRow],
                                recorded_at: datetime | None) -> list[int] | None:
        """Append new transactions and COMMIT; their positions, or None (nothing stored) if one id is known."""

    def continue_positions_after_copy(self, conn: Connection) -> None:
        """Make the next append follow rows inserted into `events` with explicit positions."""

    def refresh_statistics(self, engine: Engine) -> None:
        """Let the query planner see the log as it is now, after a bulk load."""


class ProjectionWriter(Protocol):
    """Bulk inserts of the rows scoring derives from the log, each ignoring the keys that exist."""

    def insert_prediction_rows(self, conn: Connection, rows: Sequence[NewPrediction]) -> None:
        """Insert prediction rows, skipping any (transaction, version) already stored (invariant 5)."""

    def insert_alert_rows(self, conn: Connection, rows: Sequence[OutboxRow]) -> set[str]:
        """Insert outbox rows, skipping transactions that have an alert (invariant 6) and alert ids that exist
        (invariant 22); the ids inserted."""

    def insert_member_rows(self, conn: Connection, rows: Sequence[MemberRow]) -> set[str]:
        """Insert `alert_members` rows, skipping transactions that joined an alert already; the transaction ids
        inserted."""


class ScoringRecorder(Protocol):
    """A scoring batch's read and its write, in as few round trips as the backend allows."""

    def read_scoring_batch(self, conn: Connection, positions: Sequence[int], roles_after: int) -> ScoringRows:
        """The batch's transactions, the role changes after `roles_after` and its stored predictions;
        leaves `conn` with no transaction open and set up for `write_scoring_batch`."""

    def write_scoring_batch(self, conn: Connection, prediction_rows: Sequence[NewPrediction],
                            alert_rows: Sequence[OutboxRow], member_rows: Sequence[MemberRow] = (),
                            ) -> set[str]:
        """Insert predictions, alerts and alert members in one transaction (with any reads made since the batch's
        read), and commit; the ids of the alerts inserted, or, given members, the transaction ids of the members
        inserted. Nothing is stored if it fails."""


class Snapshots(Protocol):
    """Read-only transactions that see one snapshot, enforced by the database."""

    def begin_read_only(self, conn: Connection) -> Connection:
        """Prepare `conn` for a read-only snapshot transaction; returns the connection to begin it on."""

    def end_read_only(self, conn: Connection) -> None:
        """Undo `begin_read_only` once the transaction ended, before the connection goes back to the pool."""


class DeploymentLocks(Protocol):
    """One holder per deployment (the scheduler, the lifecycle)."""

    def hold_deployment_lock(self, engine: Engine, *, key: int, name: str,
                             ) -> AbstractContextManager[StillHeld | None]:
        """Hold the lock `key` (called `name`) while the block runs; None if another holds it."""


class Backend(Connections, SqlSpelling, LogRecorder, ProjectionWriter, ScoringRecorder, Snapshots, DeploymentLocks,
              Protocol):
    """Everything the store needs of one database backend."""

    name: str  # SQLAlchemy's name of the dialect it serves
