"""A worker process scores a burst's chunks in a child process of its own (docs/features.md, "Isolation").

Threads of one process share the GIL. A burst's chunk (1,000 transactions of one card: about 0.25 s of
Python) on one thread and another card's small batch on the next made the small batch wait for the
interpreter after every database round trip: other cards' p99 went from 9 ms to 120 ms. Pausing the chunk
from a trace function at each Python call still left 59 ms (6.6x): the chunk's C code (the driver, JSON)
cannot be paused, and the pauses stretched the burst to 6 s. In a second process the chunk has its own
interpreter: other cards' p99 measured a median 2.2x on two cores (docs/features.md, "Isolation").

The child is spawned (a fork of a threaded process may copy a held lock) when the worker builds its services,
so its start-up falls before the first burst, and is kept. It builds its own scorer from the same settings
and writes through the same idempotent path, so a chunk it scored twice, or half of, stores nothing twice.
A child that dies takes its chunk's message with it: the message fails, Dramatiq retries it, and the next
burst starts a new child.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from fraudlog.config import Settings

if TYPE_CHECKING:  # not at run time: the API imports this module, and never scores
    from fraudlog.scoring.scorer import Scorer, ScoreReport

log = logging.getLogger("fraudlog.worker")

# The child runs at a lower CPU priority than its worker: where the cores are all busy, another card's batch
# (on the worker's threads) gets the CPU before a burst's chunk. Not lower: in Linux's SCHED_IDLE class, other
# cards' p99 ratio was worse (median 3.9x against 1.7x at nice 10, alternating runs of `bench.hot_card`): a
# starved child likely holds its batch's database work open longer (docs/features.md, "Isolation").
BURST_NICENESS = 10


class BurstProcess:
    """One child process that scores burst chunks for this worker process, one at a time."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the child now, without waiting for it: its start (imports, a model to load: about a second of
        CPU) then falls before the first burst instead of during it."""
        self._started().submit(_warm_up)

    def score_positions(self, positions: Sequence[int]) -> ScoreReport:
        pool = self._started()
        try:
            return pool.submit(_score_in_child, list(positions)).result()
        except BrokenProcessPool:
            log.warning("the burst process died; the next burst starts a new one")
            self._discard(pool)
            raise

    def pid(self) -> int:
        """The child's process id (started if it was not)."""
        return self._started().submit(os.getpid).result()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_child, initargs=(self._settings,))
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)


# -- in the child ---------------------------------------------------------------------------------------------

_child_scorer: Scorer | None = None


def _start_child(settings: Settings) -> None:
    from fraudlog.composition import burst_scorer
    from fraudlog.logs import configure_logging

    global _child_scorer
    # Ctrl-C in a terminal reaches the whole process group: the worker stops the child, not the signal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(BURST_NICENESS)
    configure_logging()
    _child_scorer = burst_scorer(settings)


def _warm_up() -> None:
    assert _child_scorer is not None


def _score_in_child(positions: list[int]) -> ScoreReport:
    assert _child_scorer is not None, "the burst process scores only after its initializer ran"
    return _child_scorer.score_positions(positions)
