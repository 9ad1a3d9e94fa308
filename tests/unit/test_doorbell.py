"""The doorbell rings at most once per interval, with every position appended meanwhile, and loses none."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest

from fraudlog.config import Settings
from fraudlog.ingest.group_commit import LABELS, TRANSACTIONS
from fraudlog.workers import doorbell as doorbell_module
from fraudlog.workers.doorbell import Doorbell


@pytest.fixture
def rings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, list[int]]]:
    rung: list[tuple[float, list[int]]] = []
    lock = threading.Lock()

    def ring_score(positions: Any) -> None:
        with lock:
            rung.append((time.monotonic(), list(positions)))

    monkeypatch.setattr(doorbell_module, "ring_score", ring_score)
    return rung


def test_appends_in_quick_succession_ring_a_few_times_with_every_position_once(
        rings: list[tuple[float, list[int]]]) -> None:
    bell = Doorbell(min_interval=0.05)
    for position in range(1, 201):
        bell(TRANSACTIONS, [position])
        time.sleep(0.001)
    bell(LABELS, [999])  # labels are not scored
    bell.close()
    assert sorted(p for _, positions in rings for p in positions) == list(range(1, 201))
    # 200 appends over >= 0.2 s: without the interval, about one ring per append.
    assert len(rings) <= 12, len(rings)
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(rings)]
    assert min(gaps, default=1.0) >= 0.045


def test_a_lone_append_rings_at_once(rings: list[tuple[float, list[int]]]) -> None:
    bell = Doorbell(min_interval=5.0)
    started = time.monotonic()
    bell(TRANSACTIONS, [7])
    while not rings and time.monotonic() - started < 2:
        time.sleep(0.001)
    bell.close()
    assert rings and rings[0][1] == [7] and rings[0][0] - started < 2


def test_the_api_process_rings_at_the_configured_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    from fraudlog.workers import wiring

    made: list[float | None] = []

    class RecordingDoorbell:
        def __init__(self, min_interval: float | None = None) -> None:
            made.append(min_interval)

        def close(self) -> None:
            pass

    monkeypatch.setattr(wiring, "start_broker", lambda settings: None)
    monkeypatch.setattr(wiring, "Doorbell", RecordingDoorbell)
    settings = Settings.from_env({"FRAUDLOG_BROKER_URL": "amqp://broker/", "FRAUDLOG_DOORBELL_INTERVAL": "0.05"})

    async def enter() -> None:
        async with wiring.broker_wiring(settings):
            pass

    asyncio.run(enter())
    assert made == [0.05]
