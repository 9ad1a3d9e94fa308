"""Group commit: one commit for many requests, and one refused unit never fails its neighbours."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest

from fraudlog.domain.events import Receipt
from fraudlog.ingest.group_commit import TRANSACTIONS, GroupCommitter
from fraudlog.store.errors import StoreUnavailable
from fraudlog.store.event_log import UnitOutcome
from tests.support.data import transaction_event


class FakeLog:
    """Appends in memory; refuses any group holding a poisoned unit, as a database refuses a bad row."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[int] = []
        self.fail_with = fail_with
        self.position = 0
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def append_transactions(self, units: list[list[Any]], recorded_at: Any = None) -> list[UnitOutcome]:
        self.calls.append(len(units))
        if self.fail_with is not None:
            raise self.fail_with
        if any(e.transaction_id == "poison" for unit in units for e in unit):
            raise ValueError("the database refused a row")
        outcomes = []
        for unit in units:
            receipts = []
            for event in unit:
                self.position += 1
                receipts.append(Receipt(event.transaction_id, self.position, "accepted"))
            outcomes.append(UnitOutcome(receipts))
        return outcomes


def test_a_refused_unit_fails_alone_and_its_neighbours_commit() -> None:
    log = FakeLog()
    committer = GroupCommitter(log)  # type: ignore[arg-type]
    good = [transaction_event(n) for n in range(1, 4)]
    poison = transaction_event(9, transaction_id="poison")
    futures = [committer.submit(TRANSACTIONS, [good[0]]), committer.submit(TRANSACTIONS, [poison]),
               committer.submit(TRANSACTIONS, [good[1], good[2]])]
    results = [f.exception(timeout=10) or f.result() for f in futures]
    committer.close()
    assert isinstance(results[1], ValueError)
    assert [r.status for r in results[0].receipts] == ["accepted"]  # type: ignore[union-attr]
    assert len(results[2].receipts) == 2  # type: ignore[union-attr]


def test_a_database_outage_fails_every_waiting_request_without_retrying_one_by_one() -> None:
    log = FakeLog(fail_with=StoreUnavailable("down"))
    committer = GroupCommitter(log)  # type: ignore[arg-type]
    futures = [committer.submit(TRANSACTIONS, [transaction_event(n)]) for n in range(1, 4)]
    for future in futures:
        with pytest.raises(StoreUnavailable):
            future.result(timeout=10)
    committer.close()
    assert sum(log.calls) == 3 and len(log.calls) <= 3


class GatedLog(FakeLog):
    """Holds the writer in its first append until released, so that later units queue up as one group."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def append_transactions(self, units: list[list[Any]], recorded_at: Any = None) -> list[UnitOutcome]:
        self.entered.set()
        self.gate.wait(10)
        return super().append_transactions(units, recorded_at)


async def _wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(1_000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def test_a_coroutines_group_is_settled_with_one_wake_up_of_its_loop() -> None:
    log = GatedLog()
    committer = GroupCommitter(log)  # type: ignore[arg-type]

    async def scenario() -> tuple[list[UnitOutcome], int]:
        loop = asyncio.get_running_loop()
        wake_ups = 0
        call_soon_threadsafe = loop.call_soon_threadsafe

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal wake_ups
            wake_ups += 1
            return call_soon_threadsafe(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        first = asyncio.ensure_future(committer.append(TRANSACTIONS, [transaction_event(1)]))
        await _wait_until(log.entered.is_set)  # the writer holds unit 1; the next seven queue up meanwhile
        group = [asyncio.ensure_future(committer.append(TRANSACTIONS, [transaction_event(n)])) for n in range(2, 9)]
        await _wait_until(lambda: committer._queue.qsize() == len(group))
        log.gate.set()
        results = await asyncio.wait_for(asyncio.gather(first, *group), 10)
        return results, wake_ups

    results, wake_ups = asyncio.run(scenario())
    committer.close()
    assert log.calls == [1, 7]
    assert [r.receipts[0].position for r in results] == list(range(1, 9))
    assert wake_ups == 2  # one per group, not one per request


def test_a_coroutine_whose_unit_is_refused_fails_alone() -> None:
    committer = GroupCommitter(FakeLog())  # type: ignore[arg-type]

    async def scenario() -> list[Any]:
        units = [[transaction_event(1)], [transaction_event(9, transaction_id="poison")], [transaction_event(2)]]
        return await asyncio.wait_for(asyncio.gather(*(committer.append(TRANSACTIONS, unit) for unit in units),
                                                     return_exceptions=True), 10)

    results = asyncio.run(scenario())
    committer.close()
    assert isinstance(results[1], ValueError)
    assert isinstance(results[0], UnitOutcome) and isinstance(results[2], UnitOutcome)


def test_a_request_cancelled_while_waiting_leaves_its_group_and_the_writer_working() -> None:
    log = GatedLog()
    committer = GroupCommitter(log)  # type: ignore[arg-type]

    async def scenario() -> list[UnitOutcome]:
        held = asyncio.ensure_future(committer.append(TRANSACTIONS, [transaction_event(1)]))
        await _wait_until(log.entered.is_set)
        gone = asyncio.ensure_future(committer.append(TRANSACTIONS, [transaction_event(2)]))
        stays = asyncio.ensure_future(committer.append(TRANSACTIONS, [transaction_event(3)]))
        await _wait_until(lambda: committer._queue.qsize() == 2)
        gone.cancel()  # its client went away while the unit was queued: the unit is still committed
        with contextlib.suppress(asyncio.CancelledError):
            await gone
        log.gate.set()
        results = [await asyncio.wait_for(held, 10), await asyncio.wait_for(stays, 10)]
        return [*results, await asyncio.wait_for(committer.append(TRANSACTIONS, [transaction_event(4)]), 10)]

    held, stays, later = asyncio.run(scenario())
    committer.close()
    assert log.calls == [1, 2, 1]
    assert [o.receipts[0].position for o in (held, stays, later)] == [1, 3, 4]
