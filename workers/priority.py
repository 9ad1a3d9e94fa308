"""Inside one worker process, other cards' small batches go before a burst's chunk (docs/features.md, "Isolation").

Threads of one process share the GIL, so a small batch running beside a burst's chunk got half the
interpreter at best, and waited for it again after each database round trip: its latency tripled. The chunk
therefore runs with a trace function on its own thread (`sys.settrace` is per thread) that, at each Python
call, pauses while a small batch is in flight in this process: up to `max_pause`, after which the chunk runs
for at least `min_run` before it pauses again, so a process kept busy by small batches still scores a burst,
at a bounded fraction of its time, and never starves it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class SmallFirst:
    def __init__(self, *, max_pause: float, min_run: float, switch_interval: float) -> None:
        self._max_pause, self._min_run, self._switch_interval = max_pause, min_run, switch_interval
        self._in_flight = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._run_until = 0.0

    @contextmanager
    def small(self) -> Iterator[None]:
        """A small batch: any chunk in this process pauses until it is done."""
        with self._lock:
            self._in_flight += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """A burst's chunk, run on this thread; one at a time per process (the caller holds the slot)."""
        previous_trace = sys.gettrace()
        # The GIL is handed to a waiting small batch after `switch_interval`, not the default 5 ms, so it does
        # not wait that long after each round trip before it can pause the chunk.
        previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(self._switch_interval)
        sys.settrace(self._yield_point)
        try:
            yield
        finally:
            sys.settrace(previous_trace)
            sys.setswitchinterval(previous_interval)

    def _yield_point(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if self._in_flight and time.monotonic() >= self._run_until and not self._idle.wait(self._max_pause):
            self._run_until = time.monotonic() + self._min_run
        return None  # no per-line tracing: a check per call is enough
