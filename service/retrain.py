"""Retraining: version N+1 = train(artifact of N, events in (watermark N, through], spec), reproducibly.

The parent's artifact is unpickled afresh (never the cached serving copy, which must stay frozen) and
learns the transactions after its watermark in position order, with features recomputed from the log by the
same pure function that serving uses. Unsupervised specs learn every transaction; supervised specs learn
only the labelled ones, and only from labels recorded at or before `through`, so nothing from the future
leaks in. Each event is scored before it is learned (prequential ROC AUC), the threshold is recalibrated on
those scores, and the result is a new immutable version whose parent is the old one (DESIGN invariant 8).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.domain.assignment import CHALLENGER, CHAMPION, RETIRED
from service.domain.features import TxView, batch_features, history_query
from service.ml.artifact import pack, unpack
from service.ml.metrics import roc_auc
from service.ml.specs import ModelSpec
from service.ml.training import choose_threshold, environment, prequential, training_code
from service.store.event_log import EventLog
from service.store.history import fetch_history
from service.store.registry import ModelRegistry
from service.store.tables import EVENT_LABEL, EVENT_TRANSACTION, events, model_versions, predictions

log = logging.getLogger("fraudlog.retrain")

CHUNK = 1_000
DEFAULT_MARGIN = 0.005
# Every challenger scores every transaction in shadow, so scoring cost grows with their number.
DEFAULT_MAX_CHALLENGERS = 2


@dataclass(frozen=True)
class RetrainResult:
    version: int
    parent_version: int
    status: str  # champion or challenger
    reason: str
    metrics: dict[str, Any]
    artifact_sha256: str


@dataclass(frozen=True)
class TrainingRange:
    first: int  # exclusive: the parent's watermark
    through: int  # inclusive


def labels_known_at(engine: Engine, first: int, through: int) -> dict[str, bool]:
    """The latest verdict per transaction among label events at positions <= `through`.

    Labels for transactions in the range may have been recorded before the range started, so all label
    events up to `through` count; none after it does.
    """
    stmt = (sa.select(events.c.transaction_id, events.c.payload).where(
        events.c.event_type == EVENT_LABEL, events.c.position <= through).order_by(events.c.position))
    with engine.connect() as conn:
        return {tx: bool(payload["is_fraud"]) for tx, payload in conn.execute(stmt)}


def feature_stream(engine: Engine, span: TrainingRange) -> Iterator[tuple[TxView, dict[str, float], bytes]]:
    """Each transaction in the range, in position order, with its features and canonical bytes."""
    batch: list[TxView] = []
    raw: dict[int, bytes] = {}
    for record in EventLog(engine).read_range(span.first + 1, span.through, event_types=[EVENT_TRANSACTION]):
        batch.append(TxView.from_payload(record.position, record.payload))
        raw[record.position] = msgspec.json.encode(record.payload, order="sorted")
        if len(batch) >= CHUNK:
            yield from _with_features(engine, batch, raw)
            batch, raw = [], {}
    if batch:
        yield from _with_features(engine, batch, raw)


def _with_features(engine: Engine, batch: list[TxView], raw: dict[int, bytes],
                   ) -> Iterator[tuple[TxView, dict[str, float], bytes]]:
    query = history_query(batch)
    with engine.connect() as conn:
        history = fetch_history(conn, query) if query else []
    features = batch_features(batch, history)
    for tx in batch:
        yield tx, features[tx.position], raw[tx.position]


def train_child(registry: ModelRegistry, parent: int, span: TrainingRange, *, target_alert_rate: float | None = None,
                ) -> dict[str, Any]:
    """Train the child of `parent` on `span`; returns the version row (not yet inserted)."""
    engine = registry.engine
    with engine.connect() as conn:
        row = conn.execute(sa.select(model_versions).where(model_versions.c.version == parent)).mappings().one()
    model = unpack(bytes(row["artifact"]), row["artifact_sha256"], row["artifact_hmac"], registry.secret_key, parent)
    spec = ModelSpec.from_dict(row["model_spec"])
    known = labels_known_at(engine, span.first, span.through)
    digest = hashlib.sha256()  # the SHA-256 of the range as JSON lines: event, a space, its label
    counts = {"events": 0, "labels": 0}
    labelled: list[tuple[str, bool]] = []

    def learnable() -> Iterator[tuple[dict[str, float], bool | None]]:
        for tx, features, canonical in feature_stream(engine, span):
            label = known.get(tx.transaction_id)
            digest.update(canonical + b" " + msgspec.json.encode(label) + b"\n")
            counts["events"] += 1
            if label is not None:
                counts["labels"] += 1
                labelled.append((tx.transaction_id, label))
            elif spec.supervised:
                continue  # a supervised spec learns only what is labelled by the range's end
            yield features, label

    report = prequential(model, spec, learnable())
    rate = target_alert_rate or float(row["metrics"].get("target_alert_rate", 0.02))
    threshold = choose_threshold(report.scores, rate) if report.scores else float(row["threshold"])
    artifact = pack(model, registry.secret_key)
    metrics = {**report.metrics(), "target_alert_rate": rate,
               "parent_roc_auc_same_range": _parent_auc(engine, parent, labelled)}
    return {
        "parent_version": parent, "model_spec": spec.to_dict(), "training_code": training_code(train_child),
        "training_data": {"source": "log", "first_position": span.first + 1, "last_position": span.through,
                          "event_count": counts["events"], "label_count": counts["labels"],
                          "sha256": digest.hexdigest()},
        "environment": environment(), "artifact": artifact.blob, "artifact_sha256": artifact.sha256,
        "artifact_hmac": artifact.hmac, "threshold": threshold, "metrics": metrics, "watermark": span.through,
    }


def _parent_auc(engine: Engine, parent: int, labelled: list[tuple[str, bool]]) -> float | None:
    """The parent's ROC AUC on the same labelled transactions, from the scores it actually served."""
    truth = dict(labelled)
    if not truth:
        return None
    ids = list(truth)
    scored: list[Any] = []
    with engine.connect() as conn:
        for start in range(0, len(ids), 5_000):
            scored += conn.execute(sa.select(predictions.c.transaction_id, predictions.c.score).where(
                predictions.c.model_version == parent, predictions.c.transaction_id.in_(ids[start:start + 5_000])))
    return roc_auc([s for _, s in scored], [truth[tx] for tx, _ in scored]) if scored else None


def retrain(registry: ModelRegistry, *, through: int | None = None, promote: bool = True,
            margin: float = DEFAULT_MARGIN, min_events: int = 1,
            max_challengers: int = DEFAULT_MAX_CHALLENGERS) -> RetrainResult | None:
    """Retrain the current champion on what the log gained since its watermark; None if nothing new."""
    table = registry.assignments()
    parent = table.current().champion
    if parent is None:
        raise LookupError("there is no champion to retrain")
    watermark = registry.get(parent).watermark
    through = through if through is not None else EventLog(registry.engine).last_position()
    span = TrainingRange(watermark, through)
    row = train_child(registry, parent, span)
    if row["training_data"]["event_count"] < min_events:
        return None
    version = registry.add_version(row)
    status, reason = promotion_decision(row["metrics"], promote, margin)
    registry.set_role(version, status)
    retire_surplus_challengers(registry, max_challengers)
    log.info("retrained", extra={"model_version": version, "parent_version": parent, "status": status})
    return RetrainResult(version, parent, status, reason, row["metrics"], row["artifact_sha256"])


def retire_surplus_challengers(registry: ModelRegistry, keep: int) -> list[int]:
    """Retire all but the newest `keep` challengers (a retirement event each); returns those retired."""
    challengers = sorted(registry.assignments().current().challengers)
    surplus = challengers[: max(0, len(challengers) - keep)]
    for version in surplus:
        registry.set_role(version, RETIRED)
    return surplus


def new_events_since_watermark(registry: ModelRegistry) -> int:
    """Transactions appended after the champion's watermark: what an event-count schedule counts."""
    champion = registry.assignments().current().champion
    if champion is None:
        return 0
    watermark = registry.get(champion).watermark
    with registry.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events).where(
            events.c.event_type == EVENT_TRANSACTION, events.c.position > watermark)).scalar_one())


def promotion_decision(metrics: dict[str, Any], promote: bool, margin: float) -> tuple[str, str]:
    """Promote when the new version is at least as good as its parent on the labelled part of its range."""
    if not promote:
        return CHALLENGER, "--no-promote"
    new, old = metrics.get("prequential_roc_auc"), metrics.get("parent_roc_auc_same_range")
    if new is None or old is None:
        return CHALLENGER, "no labelled events in the range to compare on"
    if new >= old - margin:
        return CHAMPION, f"ROC AUC {new:.4f} >= champion's {old:.4f} - {margin}"
    return CHALLENGER, f"ROC AUC {new:.4f} < champion's {old:.4f} - {margin}"
