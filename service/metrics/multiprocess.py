"""The directory the API processes of one `fraudlog serve --workers N` share for prometheus_client's
multiprocess mode, so that `/metrics` sums every process's request histogram whichever process answers.

prometheus_client reads `PROMETHEUS_MULTIPROC_DIR` in each process when it is first imported, and wants the
directory emptied between runs (files of a previous run would be summed in). So the supervisor sets it in its
own environment before starting the processes, which inherit it: the configured directory, emptied of its
`.db` files, or a fresh temporary one removed afterwards.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENVIRONMENT_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


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


def forget_dead_processes(directory: str) -> None:
    """Remove the "live" gauge files of processes that are gone, so their last values stop being exported.

    uvicorn replaces an API process that died (SIGKILL, a failed health check) without telling anyone, so
    prometheus_client's `mark_process_dead` is called here, by whichever process is scraped, for each pid
    with live gauge files that no longer runs. Counters and histograms keep a dead process's files: what it
    counted did happen."""
    from prometheus_client.multiprocess import mark_process_dead

    pids = {int(match.group(1)) for path in Path(directory).glob("gauge_live*_*.db")
            if (match := _LIVE_GAUGE_FILE.fullmatch(path.name))}
    for pid in pids - {os.getpid()}:
        if not _running(pid):
            mark_process_dead(pid, directory)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
