"""What a scoring batch reads and writes, in as few round trips as the backend allows.

`Scorer.score_positions` reads a batch's transactions, the role changes it may need and the predictions already
stored for it (`read_batch`), scores (reading the card history on the same connection), then inserts the
predictions and alerts and commits (`write_batch`). Two calls, in that order, on one connection: the backend sets
the connection up for the batch in the first (`ScoringRecorder`). On Postgres each is one round trip; SQLite runs
the same statements one after another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
from sqlalchemy.engine import Connection

from fraudlog.domain.alert_window import DEFAULT_ALERT_WINDOW, AlertWindow
from fraudlog.domain.assignment import RoleChange
from fraudlog.domain.features import StoredTransaction, TxView
from fraudlog.domain.records import NewPrediction, RaisedAlert
from fraudlog.domain.suppressions import Suppression
from fraudlog.store import outbox
from fraudlog.store.backend import backend_for
from fraudlog.store.errors import driver_errors
from fraudlog.store.event_log import TransactionRead
from fraudlog.store.roles import role_changes_from_rows
from fraudlog.store.suppressions import suppressions_from_rows

_decode_stored_transaction = msgspec.json.Decoder(StoredTransaction).decode


@dataclass(frozen=True)
class BatchRead:
    """A scoring batch's reads, all on the connection it then writes on."""

    records: list[TransactionRead]  # the transactions among the batch's positions, in position order
    role_changes: list[RoleChange]  # the role changes after the `roles_after` asked for, up to `roles_through`
    roles_through: int  # the log's newest position as the role changes were read
    scored: set[tuple[str, int]]  # (transaction_id, model_version) of the predictions already stored
    suppressions: list[Suppression]  # of the batch's cards (`fraudlog.domain.suppressions`)


def read_batch(conn: Connection, positions: Sequence[int], *, roles_after: int) -> BatchRead:
    """The transactions at `positions` as scoring reads them (`event_log.read_transactions`), the role changes
    after `roles_after` (`roles.role_changes_through_newest`) and the batch's stored predictions
    (`predictions.existing_predictions`). Leaves no transaction open: what the scorer does next (load model
    versions, record a refusal) may write on connections of its own."""
    rows = backend_for(conn).read_scoring_batch(conn, sorted(set(positions)), roles_after)
    changes, newest = role_changes_from_rows(rows.role_changes)
    records = [TransactionRead(TxView.from_stored(position, _decode_stored_transaction(payload)), recorded_at)
               for position, recorded_at, payload in rows.transactions]
    return BatchRead(records, changes, newest, {(tx, int(version)) for tx, version in rows.scored},
                     suppressions_from_rows(rows.suppressions))


def write_batch(conn: Connection, prediction_rows: Sequence[NewPrediction], alerts: Sequence[RaisedAlert],
                alert_window: AlertWindow = DEFAULT_ALERT_WINDOW) -> set[str]:
    """Insert the predictions (`predictions.insert_predictions`), the alerts and their members
    (`outbox.coalesced_rows`: one alert per card per `alert_window`), each ignoring what exists (invariants 5, 6
    and 19), in one transaction with whatever was read since `read_batch`, and commit it. Returns the
    transaction ids that joined an alert (a new one or an open one)."""
    event_times: dict[str, datetime | None] = {row["transaction_id"]: row["event_time"] for row in prediction_rows}
    rows, members = outbox.coalesced_rows(alerts, event_times, alert_window)
    with driver_errors():
        return backend_for(conn).write_scoring_batch(conn, prediction_rows, rows, members)
