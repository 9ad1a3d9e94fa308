"""Group commit: many concurrent requests, one durable database commit.

A durable commit costs a flush to disk, so one commit per request caps single POSTs near the disk's
flush rate. Instead each request hands its unit to a single writer thread and waits. While the writer is
committing one group, new requests queue up; the next group takes all of them at once. Nothing waits on a
timer, so an idle system answers a lone request as fast as before, and a busy one commits in groups.

Nothing acknowledged can be lost: a request is answered only after the commit that holds its unit
returned. If that commit fails, every request in the group gets the error and none is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from fraudlog.domain.events import NewEvent
from fraudlog.store.errors import StoreUnavailable
from fraudlog.store.event_log import EventLog, UnitOutcome

log = logging.getLogger("fraudlog.ingest")

TRANSACTIONS = "transactions"
LABELS = "labels"
AppendedHook = Callable[[str, list[int]], None]


@dataclass
class _Pending:
    kind: str
    unit: list[NewEvent]
    # A concurrent future for a thread that waits (`submit`); an asyncio one, with its loop, for a request
    # handler (`append`), settled from the loop's own thread.
    future: Future[UnitOutcome] | asyncio.Future[UnitOutcome] = field(default_factory=Future)
    loop: asyncio.AbstractEventLoop | None = None
    # The submitting request's context (its request id, its trace): the after-commit hook runs in it.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


Settlement = tuple["asyncio.Future[UnitOutcome]", UnitOutcome | None, BaseException | None]


def _settle_on_loop(settlements: list[Settlement]) -> None:
    for future, outcome, error in settlements:
        if future.done():  # its request was cancelled (the client went away)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(outcome)  # type: ignore[arg-type]


class GroupCommitter:
    """Appends units to the log from one writer thread, grouping whatever queued up meanwhile."""

    def __init__(self, event_log: EventLog, on_appended: AppendedHook | None = None,
                 max_group_rows: int = 20_000) -> None:
        self._log = event_log
        self._on_appended = on_appended
        self._max_group_rows = max_group_rows
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fraudlog-group-commit", daemon=True)
        self._thread.start()

    def submit(self, kind: str, unit: list[NewEvent]) -> Future[UnitOutcome]:
        """Queue `unit` for the next group; the future resolves once its commit returned."""
        pending = _Pending(kind, unit)
        self._queue.put(pending)
        return pending.future  # type: ignore[return-value]

    async def append(self, kind: str, unit: list[NewEvent]) -> UnitOutcome:
        """`submit` for a coroutine: the outcome, once the commit that holds `unit` returned.

        The writer settles a group's asyncio futures with one call into each waiting loop, not one per request
        through `asyncio.wrap_future` (whose chaining and per-future wake-up were 7 % of the API's time under
        single POSTs).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[UnitOutcome] = loop.create_future()
        self._queue.put(_Pending(kind, unit, future, loop))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():  # its connection is the writer thread's until it has stopped
            self._log.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = self._gather(first)
            for kind in (TRANSACTIONS, LABELS):
                members = [p for p in group if p.kind == kind]
                if members:
                    self._commit(kind, members)
            if stop:
                return

    def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        group, rows = [first], len(first.unit)
        while rows < self._max_group_rows:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return group, True
            group.append(item)
            rows += len(item.unit)
        return group, False

    def _commit(self, kind: str, members: list[_Pending]) -> None:
        append = self._log.append_transactions if kind == TRANSACTIONS else self._log.append_labels
        try:
            outcomes = append([m.unit for m in members])
        except StoreUnavailable as exc:  # the database is down: every waiting request hears it; none is stored
            _settle(members, None, exc)
            return
        except Exception as exc:
            if len(members) > 1:
                # One unit the database refuses must not fail its neighbours: commit them one by one.
                log.warning("a group of %d units failed (%s); committing them one by one", len(members), exc)
                for member in members:
                    self._commit(kind, [member])
                return
            _settle(members, None, exc)
            return
        _settle(members, outcomes, None)
        if self._on_appended is not None:
            # Once per unit (the doorbell coalesces them again), so that each request's context goes along.
            for member, outcome in zip(members, outcomes, strict=True):
                if outcome.new_positions:
                    try:
                        member.context.run(self._on_appended, kind, outcome.new_positions)
                    except Exception:  # the doorbell is best effort; the sweeper re-rings
                        log.exception("after-commit hook failed for %d %s", len(outcome.new_positions), kind)


def _settle(members: list[_Pending], outcomes: list[UnitOutcome] | None, error: BaseException | None) -> None:
    """Hand each member its outcome (or everyone the error): threads directly, each event loop in one call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Settlement]] = {}
    for index, member in enumerate(members):
        outcome = outcomes[index] if outcomes is not None else None
        if member.loop is None:
            future = member.future
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(outcome)  # type: ignore[arg-type]
        else:
            by_loop.setdefault(member.loop, []).append((member.future, outcome, error))  # type: ignore[arg-type]
    for loop, settlements in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed (the app shut down): nobody waits any more
            loop.call_soon_threadsafe(_settle_on_loop, settlements)
