"""The doorbell the API rings after a commit: `score` messages carrying the new positions.

Ringing happens on its own thread, never inside the database transaction and never on the request's
path: if the broker is down, the POST has already been answered 202 and the sweeper will find the event.
It rings at most once per `min_interval` (FRAUDLOG_DOORBELL_INTERVAL, 20 ms), with every position appended
meanwhile. Each ring is a publish with a broker confirm, about 0.5 ms of the API process's CPU, and a scoring
transaction in a worker: under single POSTs a ring per group commit cost a tenth of the API's time, and at
5 ms (up to 200 rings a second) the doorbell thread still took 130-150 us of CPU per request, 14 %; at 20 ms
the same load ran 15-45 % faster in alternating runs, with no measurable change to event-to-prediction
latency at 2,000/s in POSTs of 50 (BENCHMARKS.md). A lone append after a quiet spell still rings at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from fraudlog.config import DEFAULT_DOORBELL_INTERVAL
from fraudlog.ingest.group_commit import TRANSACTIONS
from fraudlog.tracing import current_span_context, producer_span
from fraudlog.workers.tasks import ring_score

log = logging.getLogger("fraudlog.doorbell")


class Doorbell:
    def __init__(self, min_interval: float = DEFAULT_DOORBELL_INTERVAL.total_seconds()) -> None:
        self._min_interval = min_interval
        # Positions, and the span context of the request that appended them (None without tracing).
        self._queue: queue.SimpleQueue[tuple[list[int], object | None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="fraudlog-doorbell", daemon=True)
        self._thread.start()

    def __call__(self, kind: str, positions: list[int]) -> None:
        """The group committer's after-commit hook."""
        if kind == TRANSACTIONS:
            self._queue.put((positions, current_span_context()))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        rung = float("-inf")
        while True:
            first = self._queue.get()
            if first is None:
                return
            time.sleep(max(0.0, rung + self._min_interval - time.monotonic()))  # let more positions gather
            positions, link = first
            links = [link] if link is not None else []
            stop = False
            while True:  # coalesce whatever queued up while we were sending
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                positions.extend(more[0])
                if more[1] is not None:
                    links.append(more[1])
            rung = time.monotonic()
            try:
                with producer_span("score send", links, {"fraudlog.events": len(positions)}):
                    ring_score(positions)
            except Exception as exc:  # a lost doorbell costs latency, not data: the sweeper re-rings
                log.warning("doorbell for %d events not delivered (%s); the sweeper will re-ring", len(positions), exc)
            if stop:
                return
