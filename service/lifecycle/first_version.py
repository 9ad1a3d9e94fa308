"""The first version: import a labelled file into the log as history, then train on the log like any version.

`fraudlog train --csv FILE` does not train on the file. It appends the file's transactions to the log (ids
prefixed `hist:`, so a later `fraudlog simulate` of the same file never collides with them) and their
labels (labelled at the transaction's own event time), then trains with `fraudlog.lifecycle.versions`
on the log up to its last position. So the card features a version learns from are computed from the log
by the function serving uses, over the same history, and `models verify` re-runs the same code.

Importing is idempotent: a row already in the log is a duplicate and adds nothing, so running the command
twice imports once. History goes in only while no champion serves: a transaction appended after the
first promotion is a live one, scored and alerted on, which a years-old row must never be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

import msgspec

from fraudlog.domain.assignment import CHALLENGER, CHAMPION
from fraudlog.domain.events import (
    LabelIn,
    LabelledTransaction,
    NewEvent,
    TransactionIn,
    label_event,
    parse_time,
    transaction_event,
)
from fraudlog.domain.records import Decision, TrainingDataLineage
from fraudlog.lifecycle.roles import assign_role
from fraudlog.lifecycle.versions import DEFAULT_ALERT_RATE, train_version
from fraudlog.ml.specs import ModelSpec
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.bulk_load import refresh_statistics
from fraudlog.store.event_log import EventLog

HISTORY_PREFIX = "hist:"
IMPORT_CHUNK = 2_000


class ImportRefused(ValueError):
    """The file cannot be imported: a bad row, an id already used for another body, or a serving log."""


@dataclass(frozen=True)
class ImportReport:
    rows: int
    imported: int  # transactions new to the log
    labels: int  # label events new to the log


@dataclass(frozen=True)
class FirstVersion:
    version: int
    threshold: float
    metrics: dict[str, Any]
    training_data: TrainingDataLineage
    artifact_sha256: str
    imported: ImportReport


def import_history(registry: ModelRegistry, rows: Iterable[LabelledTransaction], *,
                   id_prefix: str = HISTORY_PREFIX, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Append labelled transactions (HTTP-shaped dicts) to the log, `IMPORT_CHUNK` at a time, each chunk
    all-or-nothing; returns what was new."""
    log = EventLog(registry.engine)
    serving = registry.assignments().current().champion is not None
    total = imported = labelled = 0
    for chunk in _chunks(iter(rows), IMPORT_CHUNK):
        transactions, labels = _events(chunk, id_prefix, first_index=total)
        if serving:
            missing = set(e.transaction_id or "" for e in transactions) - log.known_transaction_ids(
                [e.transaction_id or "" for e in transactions])
            if missing:
                raise ImportRefused(f"a champion already serves: importing {len(missing):,} new historical "
                                    "transactions now would score and alert on them; import history before the "
                                    "first version")
        [outcome] = log.append_transactions([transactions])
        if outcome.conflicts:
            raise ImportRefused(f"{outcome.conflicts[0]!r} is in the log already with another body "
                                f"({len(outcome.conflicts)} such ids in rows {total + 1}-{total + len(chunk)})")
        [label_outcome] = log.append_labels([labels])
        imported += len(outcome.new_positions)
        labelled += len(label_outcome.new_positions)
        total += len(chunk)
        if progress:
            progress(len(chunk))
    if total == 0:
        raise ImportRefused("the file holds no transactions")
    # After a bulk load, as after a restore: the planner's statistics describe the log with its history, not
    # the empty table a new deployment starts from (autovacuum would only get to it a minute or more later,
    # and until then the history query scans the log instead of one card's index range).
    refresh_statistics(registry.engine)
    return ImportReport(total, imported, labelled)


def train_first_version(registry: ModelRegistry, rows: Iterable[LabelledTransaction], spec: ModelSpec, *,
                        id_prefix: str = HISTORY_PREFIX, target_alert_rate: float = DEFAULT_ALERT_RATE,
                        promote: bool = True, progress: Callable[[int], None] | None = None,
                        git_commit: str | None = None) -> FirstVersion:
    """Import `rows` into the log, train `spec` on the log up to its end, register it (as champion by default)."""
    report = import_history(registry, rows, id_prefix=id_prefix, progress=progress)
    cut = EventLog(registry.engine).last_position()
    champion = registry.assignments().current().champion
    trained = train_version(registry.engine, registry.secret_key, spec, cut=cut, parent=champion,
                            target_alert_rate=target_alert_rate, git_commit=git_commit)
    trained = msgspec.structs.replace(trained, trigger={"kind": "first"} if champion is None else {"kind": "manual"})
    version = registry.versions.add(trained)
    assign_role(registry, version, CHAMPION if promote else CHALLENGER, Decision(
        kind="manual", action="promote" if promote else "enter",
        reason="trained by `fraudlog train`" + (" and promoted" if promote else "")))
    return FirstVersion(version, trained.threshold, trained.metrics, trained.lineage.training_data,
                        trained.artifact_sha256, report)


def _events(chunk: list[LabelledTransaction], prefix: str, first_index: int,
            ) -> tuple[list[NewEvent], list[NewEvent]]:
    transactions, labels = [], []
    for offset, (body, is_fraud) in enumerate(chunk):
        try:
            tx = msgspec.convert({**body, "transaction_id": prefix + str(body["transaction_id"])}, TransactionIn,
                                 strict=False)
        except (msgspec.ValidationError, KeyError) as exc:
            raise ImportRefused(f"row {first_index + offset + 1}: {exc}") from None
        event = transaction_event(tx)
        transactions.append(event)
        # Labelled when the payment happened: the import is history, and its labels are deterministic.
        labels.append(label_event(LabelIn(transaction_id=tx.transaction_id, is_fraud=bool(is_fraud)),
                                  parse_time(event.payload["event_time"])))
    return transactions, labels


def _chunks(rows: Iterator[LabelledTransaction], size: int) -> Iterator[list[LabelledTransaction]]:
    while chunk := list(islice(rows, size)):
        yield chunk
