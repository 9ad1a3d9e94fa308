"""The doorbell the API rings after a commit: `score` messages carrying the new positions.

Ringing happens on its own thread, never inside the database transaction and never on the request's
path: if the broker is down, the POST has already been answered 202 and the sweeper will find the event.
"""

from __future__ import annotations

import logging
import queue
import threading

from service.store.group_commit import TRANSACTIONS
from service.tracing import current_span_context, producer_span
from workers.tasks import ring_score

log = logging.getLogger("fraudlog.doorbell")


class Doorbell:
    def __init__(self) -> None:
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
        while True:
            first = self._queue.get()
            if first is None:
                return
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
            try:
                with producer_span("score send", links, {"fraudlog.events": len(positions)}):
                    ring_score(positions)
            except Exception as exc:  # a lost doorbell costs latency, not data: the sweeper re-rings
                log.warning("doorbell for %d events not delivered (%s); the sweeper will re-ring", len(positions), exc)
            if stop:
                return
