"""Real worker processes for end-to-end tests, and a patient wait."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tests.support.models import SECRET

REPO = Path(__file__).resolve().parents[2]


def service_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "FRAUDLOG_DATABASE_URL": database_url, "FRAUDLOG_BROKER_URL": broker_url,
           "FRAUDLOG_SECRET_KEY": SECRET.decode(), "FRAUDLOG_API_KEYS": "test:admin:test-key",
           "FRAUDLOG_SWEEP_GRACE": "0", "FRAUDLOG_ALERT_SINK": "memory://", "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def log_file(name: str) -> IO[bytes]:
    """Where a child process's logs go, so a failing test can be debugged afterwards."""
    return tempfile.NamedTemporaryFile(prefix=f"fraudlog-{name}-", suffix=".log", delete=False)


def start_worker(database_url: str, broker_url: str, threads: int = 4, **extra: str) -> subprocess.Popen[bytes]:
    """`dramatiq fraudlog.workers.actors` in its own process group, so a kill takes its children too."""
    return subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "fraudlog.workers.actors", "--processes", "1", "--threads", str(threads)],
        cwd=REPO, env=service_env(database_url, broker_url, **extra), start_new_session=True,
        # A file, not a pipe: nobody reads a pipe while the test runs, and a full one blocks the worker.
        stdout=subprocess.DEVNULL, stderr=log_file("worker"))


def kill(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


@contextmanager
def worker(database_url: str, broker_url: str, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(database_url, broker_url, **extra)
    try:
        yield process
    finally:
        if process.poll() is None:
            kill(process, signal.SIGTERM)


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, interval: float = 0.1,
               message: str = "condition", step: Callable[[], object] | None = None) -> None:
    """Poll `predicate` until it holds; `step`, when given, is run between polls (e.g. one relay pass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if step is not None:
            step()
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")
