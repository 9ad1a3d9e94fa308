"""Group commit: one commit for many requests, and one refused unit never fails its neighbours."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.events import Receipt
from service.store.errors import StoreUnavailable
from service.store.event_log import UnitOutcome
from service.store.group_commit import TRANSACTIONS, GroupCommitter
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
