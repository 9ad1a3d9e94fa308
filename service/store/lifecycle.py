"""The questions the model lifecycle asks of the database: training windows, shadow evidence, the lock.

Training reads the log (`EventLog.read_range`) and the labels *as they stood at the cut* (label events at
positions <= cut), never the labels projection, which keeps changing: a version must be retrainable from
the log alone. Shadow evidence, on the other hand, is about now: the labels projection joined with the
predictions both versions made.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from service.config import sqlite_path
from service.store.tables import EVENT_LABEL, EVENT_TRANSACTION, events, labels, model_versions, predictions

LOOKUP_CHUNK = 5_000
# Advisory-lock keys of the deployment-wide locks (Postgres); SQLite uses a file beside the database.
_LOCK_KEYS = {"lifecycle": 0x6672617565}
_memory_locks: dict[str, threading.Lock] = {}


def window_start(conn: Connection, cut: int, transactions: int) -> int:
    """The position after which the newest `transactions` transaction events up to `cut` lie (0: all)."""
    stmt = (sa.select(events.c.position)
            .where(events.c.event_type == EVENT_TRANSACTION, events.c.position <= cut)
            .order_by(events.c.position.desc()).offset(transactions).limit(1))
    found = conn.execute(stmt).scalar()
    return 0 if found is None else int(found)


def labels_known_at(conn: Connection, transaction_ids: Sequence[str], cut: int) -> dict[str, bool]:
    """The latest verdict per transaction among the label events at positions <= `cut`."""
    found: dict[str, bool] = {}
    ids = list(transaction_ids)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        stmt = (sa.select(events.c.transaction_id, events.c.payload)
                .where(events.c.event_type == EVENT_LABEL, events.c.position <= cut,
                       events.c.transaction_id.in_(ids[start : start + LOOKUP_CHUNK]))
                .order_by(events.c.position))
        found.update({tx: bool(payload["is_fraud"]) for tx, payload in conn.execute(stmt)})
    return found


def newest_cut(engine: Engine) -> int:
    """The highest cut (watermark) of any version: what the next retrain must go beyond."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(model_versions.c.watermark), 0))).scalar_one())


def events_after(engine: Engine, position: int, event_type: str) -> int:
    """How many events of `event_type` lie after `position`: what a retrain trigger counts."""
    stmt = sa.select(sa.func.count()).select_from(events).where(events.c.event_type == event_type,
                                                                events.c.position > position)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def paired_scores(engine: Engine, champion: int, challenger: int) -> list[tuple[float, float, bool]]:
    """(champion's score, challenger's score, label) of every labelled transaction both versions scored."""
    mine = predictions.alias("challenger")
    stmt = (sa.select(predictions.c.score, mine.c.score, labels.c.is_fraud)
            .select_from(predictions
                         .join(mine, mine.c.transaction_id == predictions.c.transaction_id)
                         .join(labels, labels.c.transaction_id == predictions.c.transaction_id))
            .where(predictions.c.model_version == champion, mine.c.model_version == challenger)
            .order_by(predictions.c.position))
    with engine.connect() as conn:
        return [(float(a), float(b), bool(y)) for a, b, y in conn.execute(stmt)]


class LockBusy(RuntimeError):
    """Another process holds the deployment-wide lock."""


@contextmanager
def deployment_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold a deployment-wide lock named `name` for as long as the block runs, or raise LockBusy at once.

    Postgres: a session advisory lock on a connection of its own (released if the process dies). SQLite: an
    exclusive `flock` on a file beside the database (released likewise); an in-memory database is one
    process, so a thread lock does.
    """
    if engine.dialect.name == "postgresql":
        key = _LOCK_KEYS[name]
        with engine.connect() as conn:
            if not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar():
                raise LockBusy(f"another process holds the {name} lock")
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
                    conn.commit()
        return
    path = sqlite_path(str(engine.url))
    if path is None:
        lock = _memory_locks.setdefault(name, threading.Lock())
        if not lock.acquire(blocking=False):
            raise LockBusy(f"another thread holds the {name} lock")
        try:
            yield
        finally:
            lock.release()
        return
    fd = os.open(f"{path}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(f"another process holds {path}.{name}.lock") from None
        yield
    finally:
        os.close(fd)
