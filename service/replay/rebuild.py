"""`fraudlog rebuild --into URL`: lose every table but the log, and it all comes back (invariant 1, docs/INVARIANTS.md).

An empty database (SQLite or Postgres, either way round) receives a copy of the log, event for event (same
positions, payloads and recorded_at), and of the model version rows, which are immutable artifacts that no
log can re-derive. Every other table is then recomputed from the copied log alone, as it is copied:

- `labels`: the same projection the append runs (`project_labels`), fed the label events in the groups they
  were appended in. One append gives all its events one `recorded_at`, so a run of label events with equal
  `recorded_at` is one original append; that matters because a correction within one append is counted
  differently from one across two appends.
- `predictions`: the champion's and challengers' of every transaction, recomputed by replay's functions
  (features from the log, scores from the verified artifacts). `scored_at` is the rebuild's wall clock: when
  each row was really computed. The original scoring times are not in the log, so latency statistics of a
  rebuilt database describe the rebuild, not the original service.
- `scoring_failures`: a (transaction, version) whose score raises on every attempt is recorded as the scorer
  records it (`fraudlog.store.scoring_failures`), with the rebuild's wall clock as `failed_at`.
- `alerts`: one per champion prediction at or above its threshold, with the same deterministic id
  (`alert_id_for`). Delivery state is not in the log, and a rebuilt alert must never reach a customer a
  second time, so each is written `sent` with `last_error` set to `REBUILT_MARKER`, `sent_at` NULL (when
  it was delivered is not known) and `created_at` equal to its prediction's `scored_at`, as the scorer
  does. The relay only claims `pending` rows, so none is sent again.

Model metrics and `/v1/stats` are computed from these tables on demand, so they come back with them.

The whole rebuild is one transaction on the target: a row it cannot store (an id longer than the target's
column, as an old SQLite log may hold), a rejected artifact or a lost connection rolls everything back and
leaves the target as it found it, migrated and empty, so the same command can run again. Scoring therefore
loads the artifacts from the source's version rows, the very rows being copied: the target's copies become
visible to other connections only at the commit.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.alert_window import DEFAULT_ALERT_WINDOW, AlertWindow
from fraudlog.domain.assignment import AssignmentTable, role_change
from fraudlog.domain.events import (
    EVENT_PROMOTION,
    EVENT_RETIREMENT,
    EVENT_TRANSACTION,
    LABEL_EVENT_TYPES,
    NewEvent,
)
from fraudlog.domain.features import TxView
from fraudlog.domain.records import RaisedAlert
from fraudlog.ml.artifact import verify
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.collect import collected_per_chunk
from fraudlog.replay.history import FeatureWalk
from fraudlog.replay.recompute import Failed, Recomputed, categories_scoring, recompute
from fraudlog.store import migrate
from fraudlog.store.bulk_load import continue_positions_after_copy, insert_copied
from fraudlog.store.drift import project_detections
from fraudlog.store.engine import create_engine, write_transaction
from fraudlog.store.errors import StoreError, driver_errors
from fraudlog.store.event_log import EventRecord, count_by_type, walk
from fraudlog.store.labels import project_labels
from fraudlog.store.outbox import SENT, coalesced_rows, insert_alert_members, insert_alert_rows
from fraudlog.store.predictions import insert_predictions
from fraudlog.store.scoring_failures import ATTEMPTS, failure_row, insert_failures
from fraudlog.store.snapshot import read_only_snapshot
from fraudlog.store.stats import row_counts
from fraudlog.store.suppressions import held_back
from fraudlog.store.tables import events
from fraudlog.store.versions import insert_version_rows, version_rows

CHUNK = 1_000
REBUILT_MARKER = "rebuilt: delivery state not carried over"
# The width of the columns the copy writes ids into (transaction_id, card_id: both String(128)).
MAX_ID_LENGTH = int(cast(sa.String, events.c.transaction_id.type).length or 0)
COPIED_TABLES = ("events", "model_versions")  # the source of truth, and immutable artifacts
# Recomputed from the copied log. A rebuild verifies every artifact first, so the refusals it derives are none.
DERIVED_TABLES = ("labels", "predictions", "alerts", "alert_members", "model_version_refusals",
                  "drift_detections", "scoring_failures")


class RebuildRefused(StoreError):
    """The target is not an empty fraudlog database, so rebuilding into it could mix two histories."""


@dataclass(frozen=True)
class RebuildReport:
    events: int
    transactions: int
    labels: int
    versions: int
    predictions: int
    alerts: int
    seconds: float


@dataclass
class _Counts:
    events: int = 0
    transactions: int = 0
    labels: int = 0
    predictions: int = 0
    alerts: int = 0


def rebuild(source: Engine, target_url: str, secret_key: bytes, *, chunk: int = CHUNK,
            progress: Callable[[int], None] | None = None,
            on_total: Callable[[int], None] | None = None,
            alert_window: AlertWindow = DEFAULT_ALERT_WINDOW) -> RebuildReport:
    """Copy the log and the version rows of `source` into the empty database at `target_url` and recompute
    every derived table there. `secret_key` must be the one the artifacts were signed with; `alert_window` the
    coalescing window the service runs with, for the same alerts and members (invariant 22)."""
    began = time.perf_counter()
    _verify_artifacts(source, secret_key)
    target = create_engine(target_url)
    try:
        with driver_errors():
            migrate.upgrade(target)
            _require_empty(target)
            with write_transaction(target) as conn:
                versions = _copy_versions(source, conn)
                counts = _copy_and_derive(source, conn, ModelRegistry(source, secret_key), chunk, progress,
                                          on_total, alert_window)
                continue_positions_after_copy(conn)
    finally:
        target.dispose()
    return RebuildReport(counts.events, counts.transactions, counts.labels, versions, counts.predictions,
                         counts.alerts, time.perf_counter() - began)


def _verify_artifacts(source: Engine, secret_key: bytes) -> None:
    """Refuse (ArtifactRejected, naming the version) before anything is written to the target: a copy that
    fails halfway would leave a half-built database holding the bad row."""
    with source.connect() as conn:
        rows = version_rows(conn)
    for row in rows:
        verify(bytes(row["artifact"]), row["artifact_sha256"], row["artifact_hmac"], secret_key, row["version"])


def _require_empty(target: Engine) -> None:
    with target.connect() as conn:
        filled = row_counts(conn)
    if any(filled.values()):
        rows = ", ".join(f"{name} {n:,}" for name, n in filled.items() if n)
        where = target.url.render_as_string(hide_password=True)
        raise RebuildRefused(f"{where} is not empty ({rows} rows); rebuild only into an empty database")


def _copy_versions(source: Engine, target: Connection) -> int:
    """Version rows in version order, so that each parent exists before its children."""
    with source.connect() as conn:
        rows = version_rows(conn)
    if rows:
        insert_version_rows(target, rows)
    return len(rows)


def _copy_and_derive(source: Engine, target: Connection, registry: ModelRegistry, chunk: int,
                     progress: Callable[[int], None] | None, on_total: Callable[[int], None] | None,
                     alert_window: AlertWindow) -> _Counts:
    counts = _Counts()
    table = AssignmentTable()
    with read_only_snapshot(source) as reader, collected_per_chunk() as after_chunk:
        if on_total is not None:
            on_total(sum(count_by_type(reader).values()))
        walk_features = FeatureWalk(target, 1)
        for records in _appends_whole(walk(reader, chunk=chunk), chunk):
            _refuse_unstorable(records)
            _append_chunk(target, registry, table, walk_features, records, counts, alert_window)
            after_chunk()
            if progress is not None:
                progress(len(records))
    return counts


def _refuse_unstorable(records: Sequence[EventRecord]) -> None:
    """Name the first id the target's columns cannot hold, rather than leave the driver to fail on it."""
    for record in records:
        for name, value in (("transaction_id", record.transaction_id), ("card_id", record.card_id)):
            if value is not None and len(value) > MAX_ID_LENGTH:
                raise RebuildRefused(f"the event at position {record.position} has a {name} of {len(value)} "
                                     f"characters ({value[:32]!r}...); the target holds at most {MAX_ID_LENGTH}. "
                                     "No row was written")


def _appends_whole(chunks: Iterator[list[EventRecord]], size: int) -> Iterator[list[EventRecord]]:
    """The walk's events re-cut into chunks of about `size` that never end inside one label append."""
    batch: list[EventRecord] = []
    for record in itertools.chain.from_iterable(chunks):
        if len(batch) >= size and not _same_label_append(batch[-1], record):
            yield batch
            batch = []
        batch.append(record)
    if batch:
        yield batch


def _same_label_append(previous: EventRecord, record: EventRecord) -> bool:
    """Whether two label events were appended together (an append gives its events one recorded_at): the
    labels projection must see each append whole, so a chunk never ends inside one."""
    return (previous.event_type in LABEL_EVENT_TYPES and record.event_type in LABEL_EVENT_TYPES
            and previous.recorded_at == record.recorded_at)


def _append_chunk(conn: Connection, registry: ModelRegistry, table: AssignmentTable, walk_features: FeatureWalk,
                  records: list[EventRecord], counts: _Counts, alert_window: AlertWindow) -> None:
    """Insert one chunk of events and everything derived from them, in the caller's transaction."""
    insert_copied(conn, records)
    project_detections(conn, records)
    label_records = [r for r in records if r.event_type in LABEL_EVENT_TYPES]
    for _, group in itertools.groupby(label_records, key=lambda r: r.recorded_at):
        project_labels(conn, [(_new_event(r), r.position) for r in group])
    table.extend((role_change(r.position, r.payload) for r in records
                  if r.event_type in (EVENT_PROMOTION, EVENT_RETIREMENT)), known_through=records[-1].position)
    transactions = [r for r in records if r.event_type == EVENT_TRANSACTION]
    if transactions:
        views = [TxView.from_payload(r.position, r.payload) for r in transactions]
        categories = categories_scoring(registry, table, views)
        failed: list[Failed] = []
        scored = recompute(registry, table, views, walk_features.features(conn, views, categories), categories,
                           failed)
        insert_failures(conn, [failure_row(transaction_id=f.transaction_id, model_version=f.model_version,
                                           position=f.position, champion=f.champion, error=f.error,
                                           attempts=ATTEMPTS, failed_at=datetime.now(UTC)) for f in failed])
        counts.predictions += len(scored)
        counts.alerts += _insert_scores(conn, scored, {tx.position: tx for tx in views},
                                        {r.position: r.recorded_at for r in transactions}, alert_window)
    counts.events += len(records)
    counts.transactions += len(transactions)
    counts.labels += len(label_records)


def _insert_scores(conn: Connection, scored: Sequence[Recomputed], views: dict[int, TxView],
                   recorded: dict[int, datetime], alert_window: AlertWindow) -> int:
    """Insert the predictions, the alerts the champions raise and their members; returns the number of alerts."""
    scored_at = datetime.now(UTC)
    raised: list[RaisedAlert] = [
        {"transaction_id": p.transaction_id, "card_id": views[p.position].card_id, "score": p.score,
         "threshold": p.threshold, "model_version": p.model_version, "position": p.position,
         "created_at": scored_at, "reasons": p.reasons} for p in scored if p.champion and p.score >= p.threshold]
    # The same suppressions as the scorer applied: those started before each transaction in the log copied so far.
    raised, held = held_back(conn, raised, {p.transaction_id: views[p.position].event_time for p in scored})
    insert_predictions(conn, [
        {"transaction_id": p.transaction_id, "model_version": p.model_version, "position": p.position,
         "champion": p.champion, "score": p.score, "threshold": p.threshold, "features": p.features,
         "event_time": views[p.position].event_time, "recorded_at": recorded[p.position], "scored_at": scored_at,
         "reasons": p.reasons, "suppressed_by": held.get(p.transaction_id) if p.champion else None}
        for p in scored])
    rows, members = coalesced_rows(raised, {p.transaction_id: views[p.position].event_time for p in scored},
                                   alert_window, status=SENT, last_error=REBUILT_MARKER)
    added = insert_alert_rows(conn, rows)
    insert_alert_members(conn, members)
    return len(added)


def _new_event(record: EventRecord) -> NewEvent:
    return NewEvent(record.event_type, record.transaction_id, record.card_id, record.event_time, record.digest,
                    record.payload)
