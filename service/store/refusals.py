"""Model versions whose artifact failed verification: recorded once, read by readiness and the sweeper.

A refused artifact is a permanent failure for as long as it stays refused (the row is immutable and its
bytes do not match its signature), so retrying the events it should score only spins. The refusal is
recorded by the first worker that fails to verify it and removed by any process that does verify it,
which undoes a refusal made by a process started with the wrong secret key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.ml.artifact import ArtifactRejected
from fraudlog.store.backend import backend_for
from fraudlog.store.engine import write_transaction
from fraudlog.store.tables import model_version_refusals


@dataclass(frozen=True, slots=True)
class Refusal:
    version: int
    failed_check: str  # "SHA-256" or "HMAC"
    detail: str
    refused_at: datetime


def record_refusal(engine: Engine, rejected: ArtifactRejected) -> bool:
    """Record that `rejected.version` is unusable; False when it was already recorded."""
    with write_transaction(engine) as conn:
        stmt = backend_for(conn).insert(model_version_refusals).values(
            version=rejected.version, failed_check=rejected.check, detail=str(rejected),
            refused_at=datetime.now(UTC)).on_conflict_do_nothing()
        return bool(conn.execute(stmt).rowcount)


def clear_refusal(engine: Engine, version: int) -> bool:
    """Forget a refusal of `version`, whose artifact has just verified; False when there was none."""
    with write_transaction(engine) as conn:
        stmt = sa.delete(model_version_refusals).where(model_version_refusals.c.version == version)
        return bool(conn.execute(stmt).rowcount)


def refusals(conn: Connection) -> dict[int, Refusal]:
    """Every recorded refusal, by version."""
    rows = conn.execute(sa.select(model_version_refusals)).mappings()
    return {row["version"]: Refusal(**dict(row)) for row in rows}
