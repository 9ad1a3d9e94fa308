"""The training window: the newest transactions of the log up to a cut, with features and known labels.

A version's training data is a pure function of the log and its cut: the newest `window` transaction
events at positions <= cut, in position order, each with the features serving computes (the same
function, over the same history in the log, so training and serving never differ), and the latest label
recorded at a position <= cut. A label that arrives after the cut is simply not known yet: the next
version, whose cut lies beyond it, learns it; none is ever skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.domain.features import TxView, batch_features, history_query
from fraudlog.domain.records import TrainingDataLineage
from fraudlog.ml.specs import ModelSpec
from fraudlog.ml.training import TrainingData
from fraudlog.store.event_log import EventRecord, walk
from fraudlog.store.history import fetch_history
from fraudlog.store.labels import effective_labels
from fraudlog.store.lifecycle import window_start
from fraudlog.store.snapshot import read_only_snapshot

CHUNK = 1_000


@dataclass
class TrainingWindow:
    first_position: int  # the first position of the window (inclusive)
    cut: int  # the last (inclusive); labels are those known here
    data: TrainingData = field(default_factory=TrainingData)
    events: int = 0
    labels: int = 0
    frauds: int = 0
    # SHA-256 of the window as JSON lines: the canonical event, a space, its label (null when unknown).
    sha256: str = ""

    def lineage(self, window: int) -> TrainingDataLineage:
        """What a version trained on this window records of it; `window` is the size it was asked for."""
        return TrainingDataLineage(source="log", first_position=self.first_position, last_position=self.cut,
                                   label_cut=self.cut, event_count=self.events, label_count=self.labels,
                                   fraud_count=self.frauds, sha256=self.sha256, window=window)


def window_size(spec: ModelSpec) -> int:
    """How many of the newest transactions the spec trains on (a blend: its widest member's)."""
    if spec.name == "blend":
        return max(int(spec.params[member]["window"]) for member in ("logreg", "hst"))
    return int(spec.params["window"])


def read_window(engine: Engine, cut: int, transactions: int, categories: Sequence[str] = ()) -> TrainingWindow:
    """The newest `transactions` transactions at positions <= `cut`, ready to train on, with the per-card
    features of `categories` (the spec's: the same features serving computes for this version)."""
    digest = hashlib.sha256()
    with read_only_snapshot(engine) as conn:
        window = TrainingWindow(first_position=window_start(conn, cut, transactions) + 1, cut=cut)
        for chunk in walk(conn, window.first_position, cut, [EVENT_TRANSACTION], CHUNK):
            _add_chunk(conn, window, chunk, digest, categories)
    window.sha256 = digest.hexdigest()
    return window


def _add_chunk(conn: Connection, window: TrainingWindow, chunk: list[EventRecord], digest: Any,
               categories: Sequence[str]) -> None:
    views = [TxView.from_payload(r.position, r.payload) for r in chunk]
    query = history_query(views)
    history = fetch_history(conn, query, categories=categories) if query else []
    known = effective_labels(conn, through=window.cut, transaction_ids=[v.transaction_id for v in views])
    features = batch_features(views, history, categories)
    for record, view in zip(chunk, views, strict=True):
        label = known.get(view.transaction_id)
        digest.update(msgspec.json.encode(record.payload, order="sorted") + b" " + msgspec.json.encode(label) + b"\n")
        window.data.append(features[view.position], label)
        window.events += 1
        if label is not None:
            window.labels += 1
            window.frauds += label
