"""The questions the model lifecycle asks of the database: training windows, shadow evidence, its lock.

Training reads the log (`event_log.walk`) and the labels *as they stood at the cut* (`labels.latest_labels`
with `through=cut`), never the labels projection, which keeps changing: a version must be retrainable from
the log alone. Shadow evidence, on the other hand, is about now: the labels projection joined with the
predictions both versions made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.store.locks import hold_deployment_lock
from fraudlog.store.tables import events, labels, model_versions, predictions

# Advisory-lock keys of the deployment-wide locks on Postgres (the scheduler's is 0x6672617564, "fraud").
LIFECYCLE_LOCK_KEY = 0x6672617565


class LockBusy(RuntimeError):
    """Another process (or thread) holds the deployment-wide lock."""


def window_start(conn: Connection, cut: int, transactions: int) -> int:
    """The position after which the newest `transactions` transaction events up to `cut` lie (0: all)."""
    stmt = (sa.select(events.c.position)
            .where(events.c.event_type == EVENT_TRANSACTION, events.c.position <= cut)
            .order_by(events.c.position.desc()).offset(transactions).limit(1))
    found = conn.execute(stmt).scalar()
    return 0 if found is None else int(found)


def newest_cut(conn: Connection) -> int:
    """The highest cut (watermark) of any version: what the next retrain must go beyond."""
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(model_versions.c.watermark), 0))).scalar_one())


def paired_scores(engine: Engine, champion: int, challenger: int) -> list[tuple[float, float, bool]]:
    """(champion's score, challenger's score, label) of every labelled transaction both versions scored,
    in log order."""
    theirs = predictions.alias("challenger")
    stmt = (sa.select(predictions.c.score, theirs.c.score, labels.c.is_fraud)
            .select_from(predictions
                         .join(theirs, theirs.c.transaction_id == predictions.c.transaction_id)
                         .join(labels, labels.c.transaction_id == predictions.c.transaction_id))
            .where(predictions.c.model_version == champion, theirs.c.model_version == challenger)
            .order_by(predictions.c.position))
    with engine.connect() as conn:
        return [(float(a), float(b), bool(y)) for a, b, y in conn.execute(stmt)]


@contextmanager
def lifecycle_lock(engine: Engine) -> Iterator[None]:
    """Hold the deployment-wide lock of retraining and promotion, or raise LockBusy at once.

    A database lock, not a thread lock: two worker processes (or a worker and `fraudlog models retrain`)
    must never train two versions of one range, nor promote on stale evidence.
    """
    with hold_deployment_lock(engine, key=LIFECYCLE_LOCK_KEY, name="lifecycle") as held:
        if held is None:
            raise LockBusy("another retrain or evaluation holds the lifecycle lock")
        yield
