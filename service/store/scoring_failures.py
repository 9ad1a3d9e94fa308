"""Scoring failures: a (transaction, model version) whose score raised on every bounded attempt.

A model that raises on one transaction raises again on every retry of it, so retrying its whole batch only spins
and leaves the batch's other transactions unscored. The scorer scores the rest, and records the pair here instead
(`Scorer._predict`); the row is what makes the transaction *final* for the sweeper and the feed when the failed
version is its champion (invariant 11, docs/INVARIANTS.md), shows in `GET /v1/transactions/{id}`, is counted on
`/metrics`, and is deleted by `fraudlog rescore` before the transaction is scored again. `fraudlog rebuild`
recomputes it from the log, as it does predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from fraudlog.store.backend import backend_for
from fraudlog.store.engine import write_transaction
from fraudlog.store.errors import driver_errors
from fraudlog.store.tables import scoring_failures

# How many times the scorer tries one (transaction, version) in its batch before recording a failure: a fault of
# the moment (memory, a lazily loaded resource) gets another chance; a model that raises on the input does not.
ATTEMPTS = 3
# What of the exception is kept: its type and message, cut to this many characters.
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class ScoringFailure:
    """A row of `scoring_failures`: a (transaction, version) whose score raised on every attempt."""

    transaction_id: str
    model_version: int
    position: int
    champion: bool
    error: str
    attempts: int
    failed_at: datetime


def failure_row(*, transaction_id: str, model_version: int, position: int, champion: bool, error: BaseException,
                attempts: int, failed_at: datetime) -> ScoringFailure:
    return ScoringFailure(transaction_id, model_version, position, champion,
                          f"{type(error).__name__}: {error}"[:MAX_ERROR], attempts, failed_at)


def insert_failures(conn: Connection, rows: Sequence[ScoringFailure]) -> None:
    """Insert failure rows, ignoring those already recorded (a redelivered batch records nothing twice)."""
    if rows:
        conn.execute(backend_for(conn).insert(scoring_failures).on_conflict_do_nothing(), [asdict(r) for r in rows])


def commit_failures(conn: Connection, rows: Sequence[ScoringFailure]) -> None:
    """Insert and commit failure rows on a scoring batch's connection, before `scoring_batch.write_batch`.

    On the batch's own connection: on SQLite it may already hold the write lock (its history read began the write
    transaction), so another connection would wait on it. Committed on their own: should the predictions' commit
    then fail, the batch runs again and records nothing twice."""
    if rows:
        with driver_errors():
            insert_failures(conn, rows)
            conn.commit()


def failures_for(engine: Engine, transaction_id: str) -> list[ScoringFailure]:
    """One transaction's failures, by model version."""
    stmt = (sa.select(scoring_failures).where(scoring_failures.c.transaction_id == transaction_id)
            .order_by(scoring_failures.c.model_version))
    with engine.connect() as conn:
        return [ScoringFailure(**dict(row)) for row in conn.execute(stmt).mappings()]


def failure_count(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(scoring_failures)).scalar_one())


def clear_failures(engine: Engine, transaction_ids: Sequence[str] | None = None) -> list[int]:
    """Delete the failures of `transaction_ids` (None: every one); returns their positions, each once, in order."""
    where = [] if transaction_ids is None else [scoring_failures.c.transaction_id.in_(list(transaction_ids))]
    with write_transaction(engine) as conn:
        positions = conn.execute(sa.select(scoring_failures.c.position).where(*where).distinct()).scalars().all()
        conn.execute(sa.delete(scoring_failures).where(*where))
    return sorted(int(p) for p in positions)


def champion_failed(transaction_id: Any) -> sa.Exists:
    """A correlated EXISTS: the transaction's champion could not score it (final, like a champion prediction)."""
    return sa.exists().where(scoring_failures.c.transaction_id == transaction_id, scoring_failures.c.champion)
