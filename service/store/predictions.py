"""Predictions: one immutable row per (transaction, model version), and the questions asked of them.

A prediction is written once, with `ON CONFLICT DO NOTHING` on its key, so a redelivered or swept batch
writes nothing new (invariant 5). `PredictionRecord` is a prediction's comparable content: replay
recomputes exactly these fields and compares them with the stored ones, field by field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.domain.features import FeatureValues
from fraudlog.domain.records import NewPrediction, PredictionRow, StoredExplanation
from fraudlog.store.backend import backend_for
from fraudlog.store.scoring_failures import champion_failed
from fraudlog.store.tables import decode_json, events, json_text, predictions

LOOKUP_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """What one model version said of one transaction: its score, threshold and the features it was given."""

    transaction_id: str
    model_version: int
    position: int
    champion: bool
    score: float
    threshold: float
    features: dict[str, float | str]
    reasons: StoredExplanation | None = None  # an alert's explanation (`fraudlog.models.explanations`)
    suppressed_by: str | None = None  # the suppression that held back its alert (invariant 27)


def insert_predictions(conn: Connection, rows: Sequence[NewPrediction]) -> None:
    """Insert, ignoring rows that exist: a redelivered batch writes nothing new (invariant 5).

    Each row has the columns of `predictions`; the caller's transaction holds them with their alerts.
    """
    if rows:
        backend_for(conn).insert_prediction_rows(conn, rows)


def existing_predictions(conn: Connection, transaction_ids: Sequence[str]) -> set[tuple[str, int]]:
    """The (transaction, version) pairs already stored for these transactions."""
    if not transaction_ids:
        return set()
    stmt = sa.select(predictions.c.transaction_id, predictions.c.model_version).where(
        backend_for(conn).one_of(predictions.c.transaction_id, transaction_ids, sa.Text()))
    return {(tx, int(version)) for tx, version in conn.execute(stmt).all()}


def stored_predictions(conn: Connection, after: int, through: int, *, champions_only: bool = False,
                       ) -> list[PredictionRecord]:
    """Every stored prediction of an event at a position in (after, through]."""
    stmt = sa.select(predictions.c.transaction_id, predictions.c.model_version, predictions.c.position,
                     predictions.c.champion, predictions.c.score, predictions.c.threshold,
                     json_text(predictions.c.features), json_text(predictions.c.reasons),
                     predictions.c.suppressed_by).where(
        predictions.c.position > after, predictions.c.position <= through)
    if champions_only:
        stmt = stmt.where(predictions.c.champion)
    decoded: dict[str, dict[str, float | str]] = {}  # rows that store the same features decode them once
    return [PredictionRecord(tx, v, p, c, s, t, decoded[f] if f in decoded else decoded.setdefault(f, _features(f)),
                             None if r is None else reasons_as_stored(decode_json(r)), by)
            for tx, v, p, c, s, t, f, r, by in conn.execute(stmt).all()]  # fetchall: far cheaper than row by row


def _features(text: str) -> FeatureValues:
    return features_as_stored(decode_json(text))


def features_as_stored(features: FeatureValues) -> FeatureValues:
    """Stored features with every number the float it was when written, on either backend.

    Postgres' JSONB keeps a number as an exact decimal and writes it back without an exponent, so 1e23 comes
    back as the integer 100000000000000000000000, which is not equal to the float 1e23 (and the largest float
    as a 309-digit integer). Every feature value is a float or a string (counts are floats too), and an exact
    decimal converts to the float it came from, so converting integers gives back the written bits. The one
    value JSONB cannot hold is -0.0 (its numeric has no negative zero): no feature can be -0.0, because the
    canonical transaction has none (`fraudlog.domain.events.canonical_transaction`) and every derived feature
    is a count, a sum, a mean or a ratio of non-negative amounts, a time difference, or a sine or cosine.
    """
    return {name: float(value) if type(value) is int else value for name, value in features.items()}


# The numbers of an explanation that are floats when written (`fraudlog.ml.explain`); `top_k` is a count.
_REASON_FLOATS = ("value", "contribution", "card_reference", "population_reference")


def reasons_as_stored(reasons: StoredExplanation | None) -> StoredExplanation | None:
    """Stored reasons with every float the float it was when written, on either backend: JSONB hands 1e23
    back as an integer, as `features_as_stored` explains. A JSON `null` (a row written without reasons through
    the JSON type rather than as SQL NULL) is no reasons."""
    if reasons is None:
        return None

    def as_float(value: Any) -> Any:
        return float(value) if type(value) is int else value

    restored = {**reasons, "reasons": [{**reason, **{k: as_float(v) for k, v in reason.items() if k in _REASON_FLOATS}}
                                       for reason in reasons.get("reasons", [])]}
    if "base_value" in reasons:
        restored["base_value"] = as_float(reasons["base_value"])
    return cast(StoredExplanation, restored)


def unscored_positions(engine: Engine, *, after: int, first_scorable: int, recorded_before: datetime,
                       limit: int) -> list[int]:
    """Transaction events with no champion prediction yet, recorded before a grace cutoff.

    Events before the first champion promotion have no champion by definition and are never unscored; nor is an
    event its champion failed to score (`fraudlog.store.scoring_failures`): ringing it again would only fail again.
    """
    scored = sa.or_(sa.exists().where(predictions.c.transaction_id == events.c.transaction_id, predictions.c.champion),
                    champion_failed(events.c.transaction_id))
    stmt = (sa.select(events.c.position)
            .where(events.c.event_type == EVENT_TRANSACTION,
                   events.c.position > max(after, first_scorable - 1),
                   events.c.recorded_at < recorded_before,
                   ~scored)
            .order_by(events.c.position).limit(limit))
    with engine.connect() as conn:
        return [int(p) for p in conn.execute(stmt).scalars()]


def last_position_recorded_before(engine: Engine, cutoff: datetime, *, after: int) -> int | None:
    """The highest position above `after` recorded before `cutoff`: how far a sweep's scan reached.

    Appends are serialised and stamp recorded_at under the lock, so recorded_at grows with position and
    everything up to this position was old enough to be swept.
    """
    stmt = sa.select(sa.func.max(events.c.position)).where(events.c.position > after,
                                                           events.c.recorded_at < cutoff)
    with engine.connect() as conn:
        value = conn.execute(stmt).scalar()
    return None if value is None else int(value)


def predictions_for(engine: Engine, transaction_id: str) -> list[PredictionRow]:
    """Every stored prediction of one transaction, by model version: the transaction view's one read."""
    stmt = sa.select(predictions).where(predictions.c.transaction_id == transaction_id).order_by(
        predictions.c.model_version)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    # By attribute: the mapping's keys are SQLAlchemy's `quoted_name`, which msgspec refuses as `str`.
    return [msgspec.structs.replace(msgspec.convert(row, PredictionRow, from_attributes=True),
                                    features=features_as_stored(row.features)) for row in rows]
