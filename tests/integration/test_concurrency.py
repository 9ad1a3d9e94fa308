"""Concurrent writers: positions never interleave, and an id is stored once however many race for it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.engine import Engine

from fraudlog.config import Settings
from fraudlog.store.event_log import EventLog
from tests.support.api import served_api
from tests.support.data import transaction_body, transaction_event
from tests.support.event_log import read_after

WRITERS = 8
EVENTS_PER_WRITER = 1_000
BATCH = 10


@pytest.mark.postgres
def test_tailing_reader_never_skips_an_event_that_commits_late(pg_engine: Engine) -> None:
    """invariant 2, docs/INVARIANTS.md: 8 writers append 1,000 events each while a reader tails `position > last`."""
    log = EventLog(pg_engine)
    done = threading.Event()

    def write(writer: int) -> None:
        for start in range(0, EVENTS_PER_WRITER, BATCH):
            n0 = writer * EVENTS_PER_WRITER + start
            log.append_transactions([[transaction_event(n0 + i) for i in range(BATCH)]], datetime.now(UTC))

    seen: list[int] = []

    def tail() -> None:
        last = 0
        while True:
            finished = done.is_set()  # read before the query, so the final pass sees every commit
            for record in read_after(log.engine, last, limit=500):
                seen.append(record.position)
                last = record.position
            if finished and last == log.last_position():
                return

    reader = threading.Thread(target=tail)
    reader.start()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    done.set()
    reader.join(timeout=60)
    total = WRITERS * EVENTS_PER_WRITER
    assert len(seen) == total, f"the reader saw {len(seen)} of {total} events: it skipped late commits"
    assert len(set(seen)) == total and seen == sorted(seen)


def test_racing_appends_of_one_id_store_it_once(engine: Engine) -> None:
    """Separate writers (as in separate API processes) racing on one id: one accepted, the rest duplicates."""
    log = EventLog(engine)
    barrier = threading.Barrier(20)

    def append(_: int) -> str:
        barrier.wait()
        [outcome] = log.append_transactions([[transaction_event(1)]], datetime.now(UTC))
        return outcome.receipts[0].status

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(append, range(20)))
    assert sorted(statuses).count("accepted") == 1 and statuses.count("duplicate") == 19
    assert log.count() == 1


def test_twenty_clients_post_the_same_transaction(database_url: str, tmp_path: object) -> None:
    """Over real HTTP: exactly one event, one 202 and nineteen 200s with the original position."""
    body = transaction_body(1)
    barrier = threading.Barrier(20)
    with served_api(Settings(database_url=database_url, secret_key=b"k"), background=True) as url:
        def post(_: int) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=30) as client:
                barrier.wait()
                return client.post("/v1/transactions", json=body)

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(post, range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 19 + [202]
    assert len({r.json()["position"] for r in responses}) == 1
    from fraudlog.store.engine import create_engine

    engine = create_engine(database_url)
    assert EventLog(engine).count() == 1
    engine.dispose()
