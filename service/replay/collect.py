"""Garbage collection paced by chunks, for the long walks of replay, backtest and rebuild.

A chunk allocates some 10^5 short-lived objects (rows, views, feature dicts), nearly all freed by reference
counting. CPython's automatic collector still runs a generation-0 pass every 700 allocations and, as
survivors pile up, full passes over everything alive: the verified models and the rolling history included.
That cost a sixth of a replay's time. Collecting the young generations once per chunk instead keeps any
cyclic garbage bounded by one chunk, and a full collection every `FULL_EVERY` chunks catches what got old.
This changes process-wide state for the duration, so only batch commands use it, never a request handler.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

FULL_EVERY = 100


@contextmanager
def collected_per_chunk() -> Iterator[Callable[[], None]]:
    """Automatic collection off for the block; call the yielded function after each chunk."""
    was_enabled = gc.isenabled()
    gc.disable()
    chunks = 0

    def after_chunk() -> None:
        nonlocal chunks
        chunks += 1
        gc.collect(2 if chunks % FULL_EVERY == 0 else 1)

    try:
        yield after_chunk
    finally:
        if was_enabled:
            gc.enable()
