"""Drift detections: appended to the log once, projected into `drift_detections`, read newest first.

A detection's id is a function of (version watched, signal, position) only, so two workers or schedulers
that replay the same log to the same point find the same id. The append takes the log's lock and looks the
id up under it before inserting, and the projection's primary key refuses a second row: one event per
detection, however many processes, retries or restarts find it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import EVENT_DRIFT_DETECTION, EVENT_TRANSACTION, DriftDetected, canonical_json, digest
from fraudlog.store.backend import backend_for
from fraudlog.store.engine import write_transaction
from fraudlog.store.errors import driver_errors
from fraudlog.store.event_log import EventRecord
from fraudlog.store.tables import events, json_type, metadata

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

drift_detections = sa.Table(
    "drift_detections",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("position", BigInt, nullable=False, unique=True),  # of the drift_detection event
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("signal", sa.String(16), nullable=False),
    sa.Column("detected_at", BigInt, nullable=False),  # the log position at which the detector fired
    sa.Column("payload", json_type(), nullable=False),
)

_select_known = sa.select(drift_detections.c.position).where(drift_detections.c.id == sa.bindparam("id"))


def record_detection(engine: Engine, detection: DriftDetected, recorded_at: datetime | None = None) -> int | None:
    """Append the detection to the log and its projection in one transaction; its log position, or None
    when this detection (same id) is already recorded."""
    payload = msgspec.to_builtins(detection)
    with driver_errors(), write_transaction(engine) as conn:
        backend = backend_for(conn)
        head = backend.lock_event_log(conn)
        if conn.execute(_select_known, {"id": detection.id}).first() is not None:
            return None
        moment = recorded_at or head.now
        [position] = backend.insert_event_rows(
            conn, [(EVENT_DRIFT_DETECTION, None, None, moment, moment, digest(payload),
                    canonical_json(payload).decode())], head.next_position)
        _project(conn, [(position, payload)])
    return position


def project_detections(conn: Connection, records: Iterable[EventRecord]) -> None:
    """Project `drift_detection` events read from the log (`fraudlog rebuild`)."""
    _project(conn, [(r.position, r.payload) for r in records if r.event_type == EVENT_DRIFT_DETECTION])


def _project(conn: Connection, rows: list[tuple[int, dict[str, Any]]]) -> None:
    if rows:
        conn.execute(sa.insert(drift_detections), [
            {"id": p["id"], "position": position, "model_version": p["model_version"], "signal": p["signal"],
             "detected_at": p["position"], "payload": p} for position, p in rows])


def list_detections(engine: Engine, *, limit: int = 100, model_version: int | None = None,
                    ) -> list[tuple[int, DriftDetected]]:
    """(log position of the event, detection), newest first."""
    stmt = sa.select(drift_detections.c.position, drift_detections.c.payload).order_by(
        drift_detections.c.position.desc()).limit(limit)
    if model_version is not None:
        stmt = stmt.where(drift_detections.c.model_version == model_version)
    with engine.connect() as conn:
        return [(int(position), msgspec.convert(payload, DriftDetected)) for position, payload in conn.execute(stmt)]


def transaction_times(engine: Engine, positions: Iterable[int]) -> dict[int, datetime | None]:
    """For each log position, the event time of the newest transaction at or before it: where a detection
    falls on a plot against event time (the quality panel's x axis). None before the first transaction."""
    out: dict[int, datetime | None] = {}
    with engine.connect() as conn:
        for position in set(positions):
            stmt = (sa.select(events.c.event_time)
                    .where(events.c.event_type == EVENT_TRANSACTION, events.c.position <= position)
                    .order_by(events.c.position.desc()).limit(1))
            out[position] = conn.execute(stmt).scalar()
    return out


def detection_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(sa.select(drift_detections.c.id))}


