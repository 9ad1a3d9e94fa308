"""Deployment-wide locks: one holder per database of the scheduler, of the model lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from fraudlog.store.backend import backend_for
from fraudlog.store.recorders import StillHeld


@contextmanager
def hold_deployment_lock(engine: Engine, *, key: int, name: str) -> Iterator[StillHeld | None]:
    """Hold the deployment-wide lock `key` (called `name`) for as long as the block runs; yield None if another
    holds it.

    Inside the block, the yielded check says whether the lock is still held: a Postgres session lock vanishes
    with its session (a database restart, a killed backend), and a holder that lost it must stop. On SQLite
    the lock is an exclusive `flock` on a file beside the database, which lives as long as this process.
    """
    with backend_for(engine).hold_deployment_lock(engine, key=key, name=name) as held:
        yield held
