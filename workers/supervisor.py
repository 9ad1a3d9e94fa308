"""`fraudlog worker`: keep N Dramatiq worker processes running, restarting any that dies.

Dramatiq's own parent process (`dramatiq --processes N`) treats the death of one child as the end of all:
it stops the others and exits, so one OOM kill or SIGKILL took every worker on the host down until
something outside restarted it. Here each worker process is its own `dramatiq fraudlog.workers.actors --processes 1`
and this parent supervises them: a child that exits while we are not stopping is logged and started
again, after a delay that grows while it keeps dying young (a broken broker URL must not spin the CPU).
Messages a dead child held unacknowledged are redelivered by the broker, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("fraudlog.worker")

FIRST_RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0
HEALTHY_AFTER_SECONDS = 30.0  # a child that ran this long had a real run: its next restart is immediate-ish
POLL_SECONDS = 0.2
STOP_TIMEOUT_SECONDS = 60.0  # SIGTERM lets Dramatiq finish its messages; after this, SIGKILL
# Dramatiq's parent starts the forks its worker asked for (our metrics exporter) once the worker has booted, or
# after this wait; a worker that had not yet asked by then (its imports took over Dramatiq's default 30 s on a
# busy host) got no exporter, and nothing said so (issue 27 #14). Ten minutes: longer than any boot we saw.
WORKER_BOOT_TIMEOUT_MS = 600_000


def dramatiq_command(threads: int, queues: Sequence[str] = ()) -> list[str]:
    """One Dramatiq worker process for fraudlog's actors (its own parent, so a death stays its own)."""
    command = [sys.executable, "-m", "fraudlog.workers.dramatiq_main", "fraudlog.workers.actors", "--processes", "1",
               "--threads", str(threads),
               "--worker-fork-timeout", str(WORKER_BOOT_TIMEOUT_MS)]
    return command + (["--queues", *queues] if queues else [])


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class _Slot:
    """One supervised worker: its current process and how eagerly to restart it."""

    index: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    delay: float = FIRST_RESTART_DELAY
    restart_at: float | None = None


class WorkerSupervisor:
    """Runs `processes` copies of `command` until `stop()` (or SIGTERM / SIGINT through `run`)."""

    def __init__(self, command: Sequence[str], processes: int, env: Mapping[str, str] | None = None) -> None:
        if processes < 1:
            raise ValueError(f"--processes must be at least 1, got {processes}")
        self.command = list(command)
        self.processes = processes
        self.env = None if env is None else dict(env)
        self.restarts = 0
        self.pids: list[int] = []  # the children running now, for whoever watches (tests)
        self._stopping = threading.Event()

    def run(self, *, handle_signals: bool = True) -> int:
        """Supervise until stopped (`stop()`, or SIGTERM / SIGINT when `handle_signals`); then stop every child
        (SIGTERM, then SIGKILL) and return 0. Signals can only be handled on the main thread."""
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self._stopping.set())
        slots = [_Slot(i, self._start()) for i in range(self.processes)]
        log.info("supervising %d Dramatiq worker processes: %s", len(slots),
                 ", ".join(str(slot.process.pid) for slot in slots))
        while not self._stopping.wait(POLL_SECONDS):
            for slot in slots:
                self._check(slot)
            self.pids = [slot.process.pid for slot in slots if slot.restart_at is None]
        self._stop_all(slots)
        return 0

    def stop(self) -> None:
        self._stopping.set()

    def _start(self) -> subprocess.Popen[bytes]:
        # Same process group as this parent: Ctrl-C in a terminal, or a kill of the group, reaches every child.
        return subprocess.Popen(self.command, env=self.env)

    def _check(self, slot: _Slot) -> None:
        now = time.monotonic()
        if slot.restart_at is not None:
            if now >= slot.restart_at:
                slot.process, slot.started, slot.restart_at = self._start(), now, None
                self.restarts += 1
                log.warning("worker process %d restarted as %d", slot.index, slot.process.pid)
            return
        code = slot.process.poll()
        if code is None:
            return
        lived = now - slot.started
        delay = FIRST_RESTART_DELAY if lived >= HEALTHY_AFTER_SECONDS else slot.delay
        slot.delay = min(delay * 2, MAX_RESTART_DELAY)  # the next one, if it dies young again
        slot.restart_at = now + delay
        # Dramatiq's parent exits with code 1 when its worker child is killed; its own log line names the signal.
        log.warning("worker process %d (pid %d) %s after %.0f s; restarting it in %.1f s", slot.index,
                    slot.process.pid, describe_exit(code), lived, delay)

    def _stop_all(self, slots: list[_Slot]) -> None:
        running = [slot.process for slot in slots if slot.restart_at is None and slot.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop within %.0f s; killing it", process.pid,
                            STOP_TIMEOUT_SECONDS)
                process.kill()
                process.wait()
