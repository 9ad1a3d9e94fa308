"""Alert delivery on its own thread, so a slow or hanging webhook receiver never holds a scoring thread.

Dramatiq's worker threads are shared by every queue a process consumes: when `deliver_alerts` sent webhooks on
them, a receiver that hung for its whole timeout took one thread per claimed batch for the whole lease, and
with a few such batches no thread was left for `score` (recorded-to-scored latency went from 10 ms to tens of
seconds). Here the actor only rings a bell; one delivery thread per process does the sending, and scoring
threads never wait on the network. Each process's `WorkerJobs` owns its thread (`fraudlog.workers.tasks`). A relay
process (`fraudlog relay`) may run beside it: claims are leased, so both share the outbox without sending an
alert twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from fraudlog.alerts.relay import DeliveryReport

log = logging.getLogger("fraudlog.delivery")


class DeliveryThread:
    """Runs `deliver` whenever rung, one run at a time, on a daemon thread.

    Rings that arrive during a run collapse into one more run after it: the outbox, not the bell, says
    what is due, so one pass after the last ring sees everything it announced. Alerts backing off come due
    without a ring of their own: the scheduler (or the embedded sweep) rings every few seconds.
    """

    def __init__(self, deliver: Callable[[], DeliveryReport]) -> None:
        self._deliver = deliver
        self._bell = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fraudlog-delivery", daemon=True)
        self._thread.start()

    def ring(self) -> None:
        self._bell.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the run in progress (an alert in flight when the process exits is resent after its lease)."""
        self._stopping.set()
        self._bell.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._bell.wait()
            self._bell.clear()
            if self._stopping.is_set():
                return
            try:
                report = self._deliver()
            except Exception:  # the database restarting is not delivery's end: leases come back
                log.exception("alert delivery failed; trying again on the next bell")
                continue
            if report.sent or report.gave_up:
                log.info("delivered %d alerts, %d gave up", report.sent, report.gave_up)

