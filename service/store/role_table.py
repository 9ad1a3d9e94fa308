"""The role table a process keeps: which version scores each position, refreshed as the log grows.

The table only ever learns role changes from the log (`fraudlog.store.roles`), so every process holding one
agrees with every other and with replay; giving a version a role is `fraudlog.lifecycle.roles`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

from sqlalchemy.engine import Connection, Engine

from fraudlog.domain.assignment import AssignmentTable, RoleChange
from fraudlog.store.roles import role_changes_through_newest


class RoleTable:
    """The process's `AssignmentTable` of one database, read incrementally."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._table = AssignmentTable()
        self._lock = threading.Lock()

    def assignments(self, through: int | None = None, conn: Connection | None = None) -> AssignmentTable:
        """The role table, refreshed from the log when `through` lies beyond what was read (on `conn` when
        given), in one query: the role changes up to the log's newest position, and that position."""
        table = self._table
        if through is not None and table.covers(through):
            return table
        with self._lock, (contextlib.nullcontext(conn) if conn is not None else self.engine.connect()) as reader:
            changes, newest = role_changes_through_newest(reader, after=table.known_through)
            table.extend(changes, known_through=newest)
        return table

    @property
    def known_through(self) -> int:
        """The position up to which the table has read the log: a reader of the role changes after it can
        bring the table up to date with `learn`."""
        return self._table.known_through

    def learn(self, changes: Sequence[RoleChange], known_through: int) -> AssignmentTable:
        """The role table with `changes`, the role changes after `known_through` (the property) up to
        `known_through` (the argument), read by the caller in one snapshot (a scoring batch reads them with
        its events).

        Safe against other threads doing the same at once: the table skips changes it already holds and only
        moves `known_through` forward, and each reader's changes are every change up to its `known_through`.
        """
        with self._lock:
            self._table.extend(changes, known_through=known_through)
        return self._table
