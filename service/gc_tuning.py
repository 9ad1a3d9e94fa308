"""Process-wide settings of the Python runtime that serving depends on.

The cyclic garbage collector's full passes walk every tracked object in the process. After start-up that is
~140,000 objects (SQLAlchemy, Litestar, River, NumPy, SciPy and the loaded models), and a full pass took 90-140
ms on the benchmark machine: a pause of every request or scoring batch in flight, right in the p99 latency.
These objects live as long as the process, so they are frozen (`gc.freeze`): moved out of the collector's
generations, never scanned again. Garbage made later is collected as before, in passes that cost what the new
objects cost (0.0 ms right after freezing).
"""

from __future__ import annotations

import gc


def freeze_long_lived_objects() -> None:
    """Collect what is garbage now, then freeze everything still alive: call once start-up is done and after
    loading something that lives as long as the process (a model version)."""
    gc.collect()  # garbage is freed first: frozen garbage would never be
    gc.freeze()
