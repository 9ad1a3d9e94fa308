"""The processes a benchmark starts: the API (`fraudlog serve` or another app command), worker processes,
and the broker they share; each in its own session, so that stopping one reaches its children too.

Processes are configured the way an operator configures them, through the environment (`service_env`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.load.results import REPO

HOST = "127.0.0.1"  # loopback only
QUEUE_PREFIX = f"fraudlog_bench_{os.getpid()}"  # this run's queues, apart from anything else on the broker
DEFAULT_AMQP = os.environ.get("FRAUDLOG_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
BENCH_SECRET = "bench-secret-not-for-production"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def service_env(database_url: str, broker_url: str = "memory://", **settings: str) -> dict[str, str]:
    """This process's environment plus a fraudlog process's settings (FRAUDLOG_* names as keyword arguments)."""
    env = dict(os.environ)
    env.update(FRAUDLOG_DATABASE_URL=database_url, FRAUDLOG_BROKER_URL=broker_url,
               FRAUDLOG_QUEUE_PREFIX=QUEUE_PREFIX, FRAUDLOG_SECRET_KEY=BENCH_SECRET)
    env.update(settings)
    return env


def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "condition",
               interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def is_healthy(base_url: str) -> bool:
    """Whether `GET /health` answers 200."""
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


class ServedProcess:
    """A process that serves HTTP on HOST:port; entering starts it and waits until /health answers.

    Its output goes to `log_path`, so a failure to start can say why. Leaving sends SIGINT (a graceful
    stop), then SIGKILL to its whole process group after 30 s.
    """

    def __init__(self, command: list[str], env: dict[str, str], port: int, log_path: Path, *,
                 startup_grace: float = 0.0) -> None:
        self.command, self.env, self.port, self.log_path = command, env, port, log_path
        self.startup_grace = startup_grace  # e.g. --workers N: /health answered by one, the others still starting
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> ServedProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while not is_healthy(self.base_url):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command[2:4]} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self._stop()
                raise RuntimeError(f"{self.command[2:4]} did not answer /health in 60 s:\n{self.log_tail()}")
            time.sleep(0.1)
        time.sleep(self.startup_grace)
        return self

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def fraudlog_serve(env: dict[str, str], log_dir: Path, *, workers: int = 1) -> ServedProcess:
    """`fraudlog serve --workers N` on a free port (not started: use it as a context manager)."""
    port = free_port()
    command = [sys.executable, "-m", "fraudlog.cli", "serve", "--host", HOST, "--port", str(port),
               "--workers", str(workers)]
    return ServedProcess(command, env, port, log_dir / f"serve-{port}.log", startup_grace=2.0 if workers > 1 else 0)


@contextlib.contextmanager
def worker_processes(env: dict[str, str], processes: int, threads: int = 8) -> Iterator[subprocess.Popen[bytes]]:
    """`dramatiq fraudlog.workers.actors --processes N --threads T`, stopped with SIGTERM to its group on the way
    out."""
    proc = subprocess.Popen([sys.executable, "-m", "dramatiq", "fraudlog.workers.actors", "--processes",
                             str(processes), "--threads", str(threads)], cwd=REPO, env=env, start_new_session=True,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def _reachable(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
        return True
    except OSError:
        return False


def choose_broker(requested: str) -> str:
    """auto: RabbitMQ if it listens on loopback, else Redis, else the in-process broker."""
    if requested == "memory":
        return "memory://"
    if requested != "auto":
        return requested
    if _reachable(5672):
        return DEFAULT_AMQP
    if _reachable(6379):
        return DEFAULT_REDIS
    return "memory://"


def purge_broker(broker: str) -> None:
    """Delete the queues this run's processes filled (nobody may have consumed them)."""
    queues = [f"{QUEUE_PREFIX}.{name}{suffix}" for name in ("score", "alerts", "maintenance")
              for suffix in ("", ".DQ", ".XQ")]
    try:
        if broker.startswith("amqp"):
            import pika

            connection = pika.BlockingConnection(pika.URLParameters(broker))
            try:
                for queue in queues:
                    channel = connection.channel()
                    channel.queue_delete(queue)
                    channel.close()
            finally:
                connection.close()
        elif broker.startswith("redis"):
            import redis

            client: Any = redis.Redis.from_url(broker)
            keys = list(client.scan_iter(f"dramatiq:{QUEUE_PREFIX}.*"))
            if keys:
                client.delete(*keys)
    except Exception as exc:  # cleanup only
        print(f"could not delete the benchmark's queues on {broker}: {exc}", file=sys.stderr)
