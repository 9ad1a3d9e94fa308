"""The directory the API processes of one `fraudlog serve --workers N` share for prometheus_client's
multiprocess mode, so that `/metrics` sums every process's request histogram whichever process answers.

prometheus_client reads `PROMETHEUS_MULTIPROC_DIR` in each process when it is first imported, and wants the
directory emptied between runs (files of a previous run would be summed in). So the supervisor sets it in its
own environment before starting the processes, which inherit it: the configured directory, emptied of its
`.db` files, or a fresh temporary one removed afterwards.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENVIRONMENT_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_directory(configured: str | None) -> Iterator[str]:
    """For as long as the block runs, child processes started from this one share the yielded directory."""
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        os.environ[ENVIRONMENT_VARIABLE] = str(directory)
        yield str(directory)
        return
    with tempfile.TemporaryDirectory(prefix="fraudlog-prometheus-") as fresh:
        os.environ[ENVIRONMENT_VARIABLE] = fresh
        try:
            yield fresh
        finally:
            os.environ.pop(ENVIRONMENT_VARIABLE, None)
