"""A burst's `score` message holds a worker thread for one chunk at a time, one chunk per process, and sends the
rest to the back of the queue (docs/features.md, "Isolation"). The end-to-end bound is tested on Postgres and
RabbitMQ in `tests/integration/test_hot_card.py`; this is the scheduling rule itself, on Dramatiq's StubBroker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from fraudlog.workers import tasks


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubBroker]:
    previous = tasks.bound_broker()
    broker = StubBroker()
    broker.emit_after("process_boot")
    tasks.bind(broker, "chunks-test")
    yield broker
    for actor in tasks.ACTORS:
        actor.broker = previous
    dramatiq.set_broker(previous)


def unbuilt_jobs() -> tasks.WorkerJobs:
    """The jobs of a process whose services are never built: these tests replace the scoring itself."""

    def no_services() -> tasks.WorkerServices:
        raise AssertionError("the scheduling rule must not need the services")

    return tasks.WorkerJobs(no_services)


def queued(broker: StubBroker) -> list[tuple[list[int], int | None]]:
    """(positions, delay) of each `score` message waiting, on the queue or its delay queue."""
    messages = []
    for name in ("chunks-test.score", "chunks-test.score.DQ"):
        queue = broker.queues.get(name)
        while queue is not None and not queue.empty():
            message = dramatiq.Message.decode(queue.get_nowait())
            messages.append((message.args[0], message.options.get("eta")))
    return messages


def test_a_burst_is_scored_a_chunk_at_a_time_and_its_rest_goes_to_the_back_of_the_queue(
    broker: StubBroker, monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = unbuilt_jobs()
    scored: list[list[int]] = []
    monkeypatch.setattr(jobs, "_score_now", lambda positions, bursts=None: scored.append(positions))
    burst = list(range(1, 2_501))
    jobs.score(burst)
    assert scored == [burst[: tasks.BULK_CHUNK]]
    assert [positions for positions, _ in queued(broker)] == [burst[tasks.BULK_CHUNK:]]
    jobs.score([7, 8, 9])  # a small message is scored whole, at once
    assert scored[-1] == [7, 8, 9]


def test_a_second_burst_waits_off_the_threads_while_a_chunk_runs_in_the_process(
    broker: StubBroker, monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = unbuilt_jobs()
    running, release = threading.Event(), threading.Event()
    scored: list[list[int]] = []

    def slow(positions: list[int], bursts: object = None) -> None:
        scored.append(positions)
        running.set()
        release.wait(10)

    monkeypatch.setattr(jobs, "_score_now", slow)
    first = threading.Thread(target=jobs.score, args=(list(range(1, 2_001)),))
    first.start()
    assert running.wait(10)
    second = list(range(3_001, 3_501))
    jobs.score(second)  # returns at once: the slot is taken
    small = [2_001, 2_002]
    monkeypatch.setattr(jobs, "_score_now", lambda positions, bursts=None: scored.append(positions))
    jobs.score(small)  # another card's message is not held up by the running chunk
    release.set()
    first.join(10)
    assert scored == [list(range(1, 1_001)), small]
    assert (second, True) in [(positions, eta is not None) for positions, eta in queued(broker)]


def test_with_a_burst_process_the_next_chunk_waits_in_its_queue_and_a_third_goes_back(
    broker: StubBroker, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The burst process scores one chunk and has the next queued, so it never idles between them; a third
    burst's message waits off the threads as before."""

    class Bursts:
        def start(self) -> None: ...
        def close(self) -> None: ...

    jobs = tasks.WorkerJobs(unbuilt_jobs()._build, bursts=Bursts())  # type: ignore[arg-type]
    entered, release = threading.Semaphore(0), threading.Event()
    chunks: list[list[int]] = []

    def held(positions: list[int], bursts: object = None) -> None:
        assert bursts is not None, "a burst's chunk goes to the burst process"
        chunks.append(positions)
        entered.release()
        release.wait(10)

    monkeypatch.setattr(jobs, "_score_now", held)
    threads = [threading.Thread(target=jobs.score, args=(list(range(start, start + 500)),))
               for start in (1, 1_001)]
    for thread in threads:
        thread.start()
    assert entered.acquire(timeout=10) and entered.acquire(timeout=10)
    third = list(range(5_001, 5_501))
    jobs.score(third)  # returns at once: both slots are taken
    release.set()
    for thread in threads:
        thread.join(10)
    assert sorted(chunk[0] for chunk in chunks) == [1, 1_001]
    assert (third, True) in [(positions, eta is not None) for positions, eta in queued(broker)]
