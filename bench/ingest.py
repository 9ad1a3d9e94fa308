"""Ingest benchmark: the real API under load, against the bare database's batched insert rate.

    .venv/bin/python -m bench.ingest [--backend sqlite|postgres|both] [--repeats 3] [--seconds 10] [--quick]

For each backend it creates a fresh database (a throwaway Postgres database, or a SQLite file in a temp dir),
runs `fraudlog db upgrade`, starts `fraudlog serve` as a subprocess and measures, `--repeats` times each:

  (a) single-transaction POSTs from 16 concurrent keep-alive clients: requests/s, p50/p99 latency;
  (b) POSTs of 1,000 transactions from 2 concurrent clients: transactions/s;
  (c) the bare database: the driver's executemany (psycopg 3 / sqlite3, on a connection of the service's
      engine) of the same canonical rows into the same table, 1,000 rows per durable commit, no HTTP: rows/s;
  (c') the same through SQLAlchemy Core (the parameters and types EventLog binds);
  (d) for context, the store path without HTTP: EventLog.append_transactions of 1,000-row units;
  (a2) Postgres only: (a) again against `fraudlog serve --workers 2`; (a3) with --embedded, SQLite only: (a)
      in embedded mode (memory:// broker, scoring workers inside the API).

Within a repeat the phases are interleaved (baselines, singles, batches) and the database is settled between
them (VACUUM ANALYZE + CHECKPOINT, or a WAL checkpoint), so one phase's background work does not land on the
next. Bodies are real rows of shared/data/creditcard_sample.csv.gz (V1..V28 and Amount) with unique
transaction ids, so every answer is a 202 "accepted". After each run every acknowledged id is looked up in the
log (and its position compared with the receipt's); at the end the log's row count must equal the
acknowledged rows plus the baseline rows. Any loss is printed in red and the exit code is 1.

The load client is a minimal asyncio HTTP/1.1 client (pre-encoded bodies, no httpx, one ingest key per
client) so that the client costs a small, measured fraction of a core: its CPU use is reported next to the
API's, Postgres's and the rest of the machine's. Results go to bench/results/ingest-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gzip
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.domain.events import EVENT_TRANSACTION, NewEvent, TransactionIn, canonical_transaction, digest
from service.store.engine import create_engine
from service.store.event_log import EventLog
from service.store.tables import events

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
SAMPLE_CSV = REPO.parent / "shared" / "data" / "creditcard_sample.csv.gz"
PG_ADMIN_URL = os.environ.get("FRAUDLOG_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HOST = "127.0.0.1"  # loopback only
# One ingest key per client: the API limits requests per key (FRAUDLOG_RATE_LIMIT, 1,000/s by default), and
# real traffic comes from many clients, so one shared key would measure the limiter, not the service.
API_KEYS = [f"bench-key-{i:02d}" for i in range(64)]
BASE_TIME = datetime(2026, 11, 28, tzinfo=UTC)
VERIFY_CHUNK = 5_000

# The targets.
TARGET_BATCH_RATIO = 0.5
TARGET_SINGLES_PG = 2_500.0

console = Console() if Console().is_terminal else Console(width=180)


# --------------------------------------------------------------------------------------------------------
# Request bodies


class Corpus:
    """Transaction bodies minus their id, pre-encoded: a request costs the client one concatenation."""

    def __init__(self, rows: list[dict[str, Any]], source: str) -> None:
        self.source = source
        # b'"card_id":...,"attributes":{...}}': a body is b'{"transaction_id":"<id>",' + tail.
        self.tails = [msgspec.json.encode(row)[1:] for row in rows]
        self._canonical: list[dict[str, Any] | None] = [None] * len(rows)

    def __len__(self) -> int:
        return len(self.tails)

    def body(self, tx_id: str, index: int) -> bytes:
        return b'{"transaction_id":"' + tx_id.encode() + b'",' + self.tails[index % len(self.tails)]

    def batch(self, ids: list[str], first_index: int) -> bytes:
        return b"[" + b",".join(self.body(tx, first_index + i) for i, tx in enumerate(ids)) + b"]"

    def new_event(self, tx_id: str, index: int) -> NewEvent:
        """The event the API would build from this body: the same canonical payload and digest."""
        slot = index % len(self.tails)
        base = self._canonical[slot]
        if base is None:
            tx = msgspec.json.decode(self.body("x", slot), type=TransactionIn)
            base = self._canonical[slot] = canonical_transaction(tx)
        payload = {**base, "transaction_id": tx_id}
        return NewEvent(EVENT_TRANSACTION, tx_id, payload["card_id"],
                        datetime.strptime(payload["event_time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
                        digest(payload), payload)


def load_corpus(limit: int = 30_000) -> Corpus:
    rng = random.Random(42)
    rows: list[dict[str, Any]] = []
    if SAMPLE_CSV.exists():
        with gzip.open(SAMPLE_CSV, "rt", newline="") as handle:
            for record in csv.DictReader(handle):
                rows.append(_row(rng, float(record["Time"]), float(record["Amount"]),
                                 {f"V{i}": float(record[f"V{i}"]) for i in range(1, 29)}))
                if len(rows) >= limit:
                    break
        return Corpus(rows, f"{SAMPLE_CSV.name} ({len(rows)} rows)")
    for n in range(5_000):  # same shape when the sample is not beside the repo
        rows.append(_row(rng, float(n), round(rng.lognormvariate(3, 1.5), 2),
                         {f"V{i}": rng.gauss(0, 1.5) for i in range(1, 29)}))
    return Corpus(rows, "synthetic (credit-card shape)")


def _row(rng: random.Random, seconds: float, amount: float, attributes: dict[str, float]) -> dict[str, Any]:
    when = BASE_TIME + timedelta(seconds=seconds, microseconds=rng.randrange(1_000_000))
    return {"card_id": f"card-{rng.randrange(10_000)}",
            "event_time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "amount": amount, "attributes": attributes}


# --------------------------------------------------------------------------------------------------------
# CPU accounting (Linux /proc): who burns the two cores while we measure


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, ppid, utime+stime in seconds) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _all_procs() -> dict[int, tuple[str, int, float]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            found[int(entry)] = stat
    return found


# The Postgres database under test, so its backends count as "postgres" and other sessions' as "other".
BENCH_PG_DATABASE: str | None = None


def _is_our_postgres(pid: int) -> bool:
    if BENCH_PG_DATABASE is None:
        return False
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    is_backend = "(" in title or "[local]" in title  # client backends show the peer address
    return f" {BENCH_PG_DATABASE} " in title or not is_backend  # ours, or shared (walwriter, checkpointer...)


@dataclass
class CpuSnapshot:
    wall: float
    client: float
    server: float
    postgres: float
    machine_busy: float
    machine_total: float
    others: dict[int, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def take(cls, server_pid: int | None) -> CpuSnapshot:
        procs = _all_procs()
        tree: set[int] = set()
        if server_pid is not None:
            tree = {server_pid}
            changed = True
            while changed:  # uvicorn --workers N: the parent plus its spawned children
                changed = False
                for pid, (_comm, ppid, _cpu) in procs.items():
                    if ppid in tree and pid not in tree:
                        tree.add(pid)
                        changed = True
        server = postgres = 0.0
        others: dict[int, tuple[str, float]] = {}
        me = os.getpid()
        for pid, (comm, _ppid, cpu) in procs.items():
            if pid in tree:
                server += cpu
            elif comm.startswith("postgres") and _is_our_postgres(pid):
                postgres += cpu
            elif pid != me:
                others[pid] = (comm, cpu)
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        total = sum(values[:8])
        busy = total - values[3] - values[4]  # minus idle and iowait
        return cls(time.perf_counter(), time.process_time(), server, postgres, busy / _TICK, total / _TICK, others)

    def usage_since(self, before: CpuSnapshot) -> dict[str, Any]:
        """Cores used on average: 1.0 is one core fully busy. machine_busy_share is the share of all cores."""
        wall = max(self.wall - before.wall, 1e-9)
        busy_share = (self.machine_busy - before.machine_busy) / max(self.machine_total - before.machine_total, 1e-9)
        by_command: dict[str, float] = {}
        for pid, (comm, cpu) in self.others.items():
            by_command[comm] = by_command.get(comm, 0.0) + cpu - before.others.get(pid, (comm, 0.0))[1]
        return {"client_cores": round((self.client - before.client) / wall, 3),
                "server_cores": round((self.server - before.server) / wall, 3),
                "postgres_cores": round((self.postgres - before.postgres) / wall, 3),
                # everything else on this shared machine: other sessions, the broker, the kernel
                "other_cores": round(busy_share * (os.cpu_count() or 1)
                                     - (self.client - before.client + self.server - before.server
                                        + self.postgres - before.postgres) / wall, 3),
                "other_top": {comm: round(cpu / wall, 2)
                              for comm, cpu in sorted(by_command.items(), key=lambda kv: -kv[1])[:4] if cpu > 0},
                "machine_busy_share": round(busy_share, 3)}


# --------------------------------------------------------------------------------------------------------
# Databases and the API process


@dataclass
class Database:
    backend: str
    url: str
    version: str
    settings: dict[str, str]


@contextlib.contextmanager
def provision(backend: str, sqlite_dir: str | None) -> Iterator[Database]:
    """A fresh database, migrated with `fraudlog db upgrade`, removed afterwards."""
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="fraudlog-bench-", dir=sqlite_dir)
        try:
            url = f"sqlite:///{directory}/bench.db"
            _db_upgrade(url)
            yield Database(backend, url, f"SQLite {sqlite3.sqlite_version}",
                           {"journal_mode": "wal", "synchronous": "FULL", "directory": directory})
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    global BENCH_PG_DATABASE
    name = BENCH_PG_DATABASE = f"fraudlog_bench_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        stale_names = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                                   {"pattern": "fraudlog\\_bench\\_%"}).scalars().all()
        for stale in stale_names:
            pid = stale.rsplit("_", 1)[-1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():  # left by a run that died
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        version = conn.exec_driver_sql("SHOW server_version").scalar_one()
        settings = {key: conn.exec_driver_sql(f"SHOW {key}").scalar_one()
                    for key in ("fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
                                "shared_buffers", "max_wal_size")}
    try:
        url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        _db_upgrade(url)
        yield Database(backend, url, f"PostgreSQL {version}", settings)
    finally:
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except sa.exc.OperationalError as exc:
            console.print(f"[yellow]could not drop {name} ({exc.orig}); the next run drops it")
        admin.dispose()
        BENCH_PG_DATABASE = None


QUEUE_PREFIX = f"fraudlog_bench_{os.getpid()}"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _service_env(url: str, broker: str = "memory://") -> dict[str, str]:
    env = dict(os.environ)
    env.update(FRAUDLOG_DATABASE_URL=url, FRAUDLOG_BROKER_URL=broker, FRAUDLOG_QUEUE_PREFIX=QUEUE_PREFIX,
               FRAUDLOG_SECRET_KEY="bench-secret-not-for-production",
               FRAUDLOG_API_KEYS=",".join(f"bench{i:02d}:ingest:{key}" for i, key in enumerate(API_KEYS)))
    return env


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
    """Delete the queues the API's doorbell filled (nobody consumes them in this benchmark)."""
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

            client = redis.Redis.from_url(broker)
            keys = list(client.scan_iter(f"dramatiq:{QUEUE_PREFIX}.*"))
            if keys:
                client.delete(*keys)
    except Exception as exc:  # cleanup only
        console.print(f"[yellow]could not delete the benchmark's queues on {broker}: {exc}")


def _db_upgrade(url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "service.cli", "db", "upgrade"], env=_service_env(url),
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"fraudlog db upgrade failed:\n{done.stdout}\n{done.stderr}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ApiServer:
    """`fraudlog serve` in a subprocess (its own session, so a stop reaches its workers too)."""

    def __init__(self, url: str, workers: int, log_dir: Path, broker: str) -> None:
        self.url, self.workers, self.broker, self.port = url, workers, broker, free_port()
        self.log_path = log_dir / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ApiServer:
        cmd = [sys.executable, "-m", "service.cli", "serve", "--host", HOST, "--port", str(self.port),
               "--workers", str(self.workers)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=_service_env(self.url, self.broker), cwd=self.log_path.parent,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"fraudlog serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"fraudlog serve did not answer /health in 60 s:\n{self.log_tail()}")
            time.sleep(0.1)
        if self.workers > 1:  # /health answered by one worker; give the others a moment to start too
            time.sleep(2)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------------------
# The load client: keep-alive HTTP/1.1 over asyncio streams


class _Receipt(msgspec.Struct):
    transaction_id: str
    position: int
    status: str


_one_receipt = msgspec.json.Decoder(_Receipt)
_many_receipts = msgspec.json.Decoder(list[_Receipt])


class ProtocolError(Exception):
    pass


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
                    ) -> tuple[int, bytes, bool]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    start = lower.find(b"\r\ncontent-length:")
    if start < 0:
        raise ProtocolError("response without content-length")
    end = lower.index(b"\r\n", start + 2)
    body = await reader.readexactly(int(lower[start + 17 : end]))
    return status, body, b"\r\nconnection: close" in lower


@dataclass
class LoadRun:
    """What one timed load run saw from the client side."""

    scenario: str
    workers: int
    clients: int
    batch_size: int
    seconds: float = 0.0
    requests_ok: int = 0
    tx_acked: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)  # transaction id -> position in the receipt
    unknown: list[str] = field(default_factory=list)  # ids whose request failed: stored or not, unknown
    duplicates: int = 0
    cpu: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.tx_acked / self.seconds if self.seconds else 0.0

    def latency_ms(self, q: float) -> float | None:
        if not self.latencies_ns:
            return None
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


async def run_load(port: int, corpus: Corpus, run: LoadRun, prefix: str, seconds: float,
                   on_tick: Callable[[float, LoadRun], None] | None = None) -> LoadRun:
    stop = asyncio.Event()
    def head_for(cid: int) -> bytes:
        return (f"POST /v1/transactions HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {API_KEYS[cid % len(API_KEYS)]}\r\nContent-Length: ").encode()
    offset = random.Random(prefix).randrange(len(corpus))

    async def client(cid: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        head = head_for(cid)
        seq = 0
        try:
            while not stop.is_set():
                if run.batch_size == 1:
                    ids = [f"{prefix}{cid:02d}-{seq:08d}"]
                    body = corpus.body(ids[0], offset + cid * 7919 + seq)
                else:
                    ids = [f"{prefix}{cid:02d}-{seq:08d}-{i:05d}" for i in range(run.batch_size)]
                    body = corpus.batch(ids, offset + (cid * 1_000_003 + seq) * run.batch_size)
                seq += 1
                request = head + str(len(body)).encode() + b"\r\n\r\n" + body
                began = time.perf_counter_ns()
                try:
                    status, payload, close = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError) as exc:
                    run.errors[f"connection: {type(exc).__name__}"] += 1
                    run.unknown.extend(ids)
                    writer.close()
                    await asyncio.sleep(0.05)
                    reader, writer = await asyncio.open_connection(HOST, port)
                    continue
                elapsed = time.perf_counter_ns() - began
                if 200 <= status < 300:
                    receipts = [_one_receipt.decode(payload)] if run.batch_size == 1 else \
                        _many_receipts.decode(payload)
                    run.requests_ok += 1
                    run.tx_acked += len(receipts)
                    run.latencies_ns.append(elapsed)
                    for receipt in receipts:
                        run.acked[receipt.transaction_id] = receipt.position
                        run.duplicates += receipt.status != "accepted"
                else:
                    run.errors[f"HTTP {status}"] += 1
                    run.unknown.extend(ids)
                    if len(run.error_samples) < 5:
                        run.error_samples.append(f"{status}: {payload[:300].decode(errors='replace')}")
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    began = time.perf_counter()
    tasks = [asyncio.create_task(client(cid)) for cid in range(run.clients)]
    while (now := time.perf_counter() - began) < seconds and not all(t.done() for t in tasks):
        if on_tick is not None:
            on_tick(now, run)
        await asyncio.sleep(min(0.25, max(0.0, seconds - now)))
    stop.set()  # each client finishes the request it has in flight, so every request has an answer
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    run.seconds = time.perf_counter() - began
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            run.errors[f"client crashed: {type(outcome).__name__}: {outcome}"] += 1
    return run


def timed_load(server: ApiServer, corpus: Corpus, run: LoadRun, prefix: str, seconds: float,
               on_tick: Callable[[float, LoadRun], None] | None = None) -> LoadRun:
    before = CpuSnapshot.take(server.pid)
    asyncio.run(run_load(server.port, corpus, run, prefix, seconds, on_tick))
    run.cpu = CpuSnapshot.take(server.pid).usage_since(before)
    return run


# --------------------------------------------------------------------------------------------------------
# The baselines: no HTTP


@dataclass
class BaselineRun:
    scenario: str
    rows: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _params(batch: list[NewEvent], recorded_at: datetime) -> list[dict[str, Any]]:
    # Exactly the parameters EventLog._insert binds.
    return [{"event_type": e.event_type, "transaction_id": e.transaction_id, "card_id": e.card_id,
             "event_time": e.event_time, "recorded_at": recorded_at, "digest": e.digest, "payload": e.payload}
            for e in batch]


_COLUMNS = "event_type, transaction_id, card_id, event_time, recorded_at, digest, payload"
_json = msgspec.json.Encoder()


def _sqlite_time(moment: datetime) -> str:
    # How the service's UTCDateTime stores a time on SQLite (naive UTC, SQLAlchemy's text format).
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _driver_rows(engine: sa.Engine, batch: list[NewEvent], recorded_at: datetime) -> list[tuple[Any, ...]]:
    if engine.dialect.name == "sqlite":
        return [(e.event_type, e.transaction_id, e.card_id, _sqlite_time(e.event_time or recorded_at),
                 _sqlite_time(recorded_at), e.digest, _json.encode(e.payload).decode()) for e in batch]
    from psycopg.types.json import Jsonb

    return [(e.event_type, e.transaction_id, e.card_id, e.event_time, recorded_at, e.digest,
             Jsonb(e.payload, dumps=lambda value: _json.encode(value).decode())) for e in batch]


def _driver_insert(raw: Any, dialect: str, rows: list[tuple[Any, ...]]) -> None:
    """executemany on the DBAPI connection, one durable commit (WAL + synchronous=FULL / fsync on)."""
    if dialect == "sqlite":
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        cursor.executemany(f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        cursor.execute("COMMIT")
        cursor.close()
        return
    with raw.cursor() as cursor:
        cursor.executemany(f"INSERT INTO events ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    raw.commit()


def run_baseline(engine: sa.Engine, corpus: Corpus, scenario: str, prefix: str, rows: int, batch_size: int,
                 on_batch: Callable[[int], None]) -> BaselineRun:
    """Insert `rows` events, `batch_size` per durable commit, without HTTP. Only the database work is timed.

    bare: the driver's executemany (psycopg 3 / sqlite3) on a connection of the service's engine.
    bare_sa: SQLAlchemy Core executemany of the parameters EventLog binds (its JSON serializer, its types).
    store: EventLog.append_transactions with one unit of `batch_size` (lock, duplicate lookup, RETURNING).
    """
    run = BaselineRun(scenario)
    log = EventLog(engine)
    insert = sa.insert(events)
    client_cpu = 0.0
    before = CpuSnapshot.take(None)
    raw = engine.raw_connection() if scenario == "bare" else None
    try:
        for number in range(rows // batch_size):
            batch = [corpus.new_event(f"{prefix}{number:06d}-{i:05d}", number * batch_size + i)
                     for i in range(batch_size)]
            recorded_at = datetime.now(UTC)
            params: Any = (_driver_rows(engine, batch, recorded_at) if scenario == "bare"
                           else _params(batch, recorded_at) if scenario == "bare_sa" else None)
            began, cpu_began = time.perf_counter(), time.process_time()
            if scenario == "bare":
                _driver_insert(raw.driver_connection, engine.dialect.name, params)  # type: ignore[union-attr]
            elif scenario == "bare_sa":
                with engine.begin() as conn:
                    conn.execute(insert, params)
            else:
                log.append_transactions([batch], recorded_at)
            run.seconds += time.perf_counter() - began
            client_cpu += time.process_time() - cpu_began
            run.rows += batch_size
            on_batch(batch_size)
    finally:
        if raw is not None:
            raw.close()
    # The Python side (driver, SQLAlchemy) while timed, and Postgres over the whole run (idle while we
    # prepare the next batch), both per second of timed work; `other` is the rest of the machine over the
    # whole run, preparation included.
    usage = CpuSnapshot.take(None).usage_since(before)
    run.cpu = {"client_cores": round(client_cpu / run.seconds, 3),
               "postgres_cores": round(usage["postgres_cores"] * (time.perf_counter() - before.wall) / run.seconds, 3),
               "other_cores": usage["other_cores"], "other_top": usage["other_top"]}
    return run


# --------------------------------------------------------------------------------------------------------
# Verification: nothing acknowledged may be missing


def verify(engine: sa.Engine, run: LoadRun) -> dict[str, Any]:
    acked = run.acked
    ids = sorted(acked) + sorted(set(run.unknown))
    stored: dict[str, int] = {}
    commits: set[Any] = set()  # a group commit stamps all its rows with one recorded_at
    with engine.connect() as conn:
        for start in range(0, len(ids), VERIFY_CHUNK):
            chunk = ids[start : start + VERIFY_CHUNK]
            stmt = sa.select(events.c.transaction_id, events.c.position, events.c.recorded_at).where(
                events.c.event_type == EVENT_TRANSACTION, events.c.transaction_id.in_(chunk))
            for tx, pos, recorded_at in conn.execute(stmt):
                stored[tx] = pos
                commits.add(recorded_at)
    missing = [tx for tx in acked if tx not in stored]
    moved = [tx for tx, pos in acked.items() if tx in stored and stored[tx] != pos]
    unknown_stored = sum(1 for tx in set(run.unknown) if tx in stored)
    answers_2xx = run.tx_acked
    result = {"acknowledged": answers_2xx, "distinct_acknowledged": len(acked), "found": len(acked) - len(missing),
              "missing": len(missing), "missing_sample": missing[:5], "position_mismatch": len(moved),
              "failed_requests_rows_stored": unknown_stored, "commits": len(commits),
              "requests_per_commit": round(run.requests_ok / len(commits), 2) if commits else None,
              "ok": not missing and not moved and
              answers_2xx == len(acked)}
    run.verification = result
    return result


def settle(engine: sa.Engine) -> float:
    """Let the database finish the background work the previous phase caused, so it does not land on the next.

    Postgres: VACUUM (ANALYZE) the log (what autovacuum would start after a bulk insert) and CHECKPOINT.
    SQLite: checkpoint and truncate the WAL. Not timed in any figure; returns its own duration.
    """
    began = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) events")
            conn.exec_driver_sql("CHECKPOINT")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - began


def count_transactions(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events).where(
            events.c.event_type == EVENT_TRANSACTION)).scalar_one())


# --------------------------------------------------------------------------------------------------------
# Profiling (optional): py-spy on the API process during one extra, unreported single-POST run


def profile_load(server: ApiServer, corpus: Corpus, run: LoadRun, prefix: str, seconds: float, out: Path,
                 ) -> tuple[dict[str, Any], LoadRun]:
    """py-spy the API for `seconds` while `run` loads it (py-spy starts 1 s into the load, stops before it)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    rate, duration = 100, max(2, int(seconds))
    command = [py_spy, "record", "--nonblocking", "--threads", "--format", "raw", "-r", str(rate),
               "-d", str(duration), "-o", str(out), "--pid", str(server.pid)]
    spy: list[subprocess.Popen[bytes]] = []
    starter = threading.Timer(1.0, lambda: spy.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                                          stderr=subprocess.PIPE)))
    starter.start()
    timed_load(server, corpus, run, prefix, duration + 2.5)
    starter.join()
    _out, err = spy[0].communicate(timeout=60)
    if spy[0].returncode != 0 or not out.exists():
        return {"error": err.decode(errors="replace")[-500:]}, run
    summary = summarise_profile(out, rate * duration)
    summary["scenario"] = run.scenario
    summary["rate_during_profile"] = round(run.rate)
    summary["file"] = str(out.relative_to(REPO))
    return summary, run


def summarise_profile(path: Path, samples_per_thread: int) -> dict[str, Any]:
    threads: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(":", 1)[-1].strip() or frames[0]
        threads[thread] += count
        total += count
        names = [_short_frame(f) for f in frames[1:]]
        if names:
            self_time[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    return {
        "active_share_by_thread": {t: round(n / samples_per_thread, 3) for t, n in threads.most_common(8)},
        "top_self": [(name, round(n / max(total, 1), 3)) for name, n in self_time.most_common(15)],
        "top_inclusive": [(name, round(n / max(total, 1), 3)) for name, n in inclusive.most_common(40)],
    }


def _short_frame(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(where).parts
    return f"{name} ({'/'.join(parts[-2:])})" if where else name


# --------------------------------------------------------------------------------------------------------
# Orchestration


SCENARIOS = ("bare", "bare_sa", "store", "singles", "batches", "singles_workers2", "singles_embedded")
LOAD_SCENARIOS = ("singles", "batches", "singles_workers2", "singles_embedded")


@dataclass
class Plan:
    backends: list[str]
    broker: str
    repeats: int
    seconds: float
    baseline_rows: int
    clients: int
    batch_clients: int
    batch_size: int
    workers2: bool
    profile: bool
    embedded: bool
    warmup: float

    def estimate(self) -> float:
        total = 0.0
        for backend in self.backends:
            loads = 2 + (1 if backend == "postgres" and self.workers2 else 0)
            loads += 1 if backend == "sqlite" and self.embedded and self.broker != "memory://" else 0
            total += self.repeats * self.seconds * loads + self.warmup * loads
            total += 2 * self.seconds if self.profile else 0
        return total


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def run_backend(backend: str, plan: Plan, corpus: Corpus, progress: Progress, overall: TaskID,
                args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    result: dict[str, Any] = {"backend": backend, "broker": plan.broker, "runs": {}, "profile": None}
    runs: dict[str, list[Any]] = {key: [] for key in ("warmup", *SCENARIOS, "profiled")}
    ok = True
    phase = progress.add_task(f"{backend}: preparing", total=None, status="")

    def tick_for(label: str, unit: str) -> Callable[[float, LoadRun], None]:
        last = [0.0]

        def tick(now: float, run: LoadRun) -> None:
            progress.update(phase, description=f"{backend}: {label}", completed=now, total=plan.seconds,
                            status=f"{run.tx_acked / now if now else 0:,.0f} {unit}")
            progress.advance(overall, now - last[0])
            last[0] = now
        return tick

    def load(server: ApiServer, scenario: str, label: str, prefix: str, clients: int, batch: int = 1,
             seconds: float = plan.seconds) -> LoadRun:
        run = timed_load(server, corpus, LoadRun(scenario, server.workers, clients, batch), prefix, seconds,
                         tick_for(label, "req/s" if batch == 1 else "tx/s"))
        nonlocal ok
        ok &= _check(engine, run, f"{backend} {label}")
        runs["warmup" if scenario == "warmup" else scenario].append(run)
        return run

    def singles_only(scenario: str, workers: int, broker: str, tag: str, label: str) -> None:
        settle_seconds.append(settle(engine))
        with ApiServer(db.url, workers, log_dir, broker) as server:
            load(server, "warmup", f"warm-up, {label}", f"{backend[0]}{tag}w-", plan.clients, seconds=plan.warmup)
            for rep in range(1, plan.repeats + 1):
                load(server, scenario, f"single POSTs x{plan.clients}, {label} #{rep}", f"{backend[0]}{tag}{rep}-",
                     plan.clients)

    with provision(backend, args.sqlite_dir) as db:
        result["database"] = {"version": db.version, "settings": db.settings}
        engine = create_engine(db.url)
        extra_rows = 0
        settle_seconds: list[float] = []
        result["settle_seconds"] = settle_seconds
        log_dir = Path(tempfile.mkdtemp(prefix="fraudlog-bench-logs-"))
        try:
            with ApiServer(db.url, 1, log_dir, plan.broker) as server:
                load(server, "warmup", "warm-up", f"{backend[0]}w-", plan.clients, seconds=plan.warmup)
                for rep in range(1, plan.repeats + 1):
                    for scenario, tag in (("bare", "c"), ("bare_sa", "s"), ("store", "d")):
                        progress.update(phase, description=f"{backend}: baseline {scenario} #{rep}",
                                        total=plan.baseline_rows, completed=0, status="")
                        base = run_baseline(engine, corpus, scenario, f"{backend[0]}{tag}{rep}-",
                                            plan.baseline_rows, plan.batch_size,
                                            lambda n: progress.advance(phase, n))
                        extra_rows += base.rows
                        runs[scenario].append(base)
                        progress.update(phase, description=f"{backend}: settling (vacuum, checkpoint)")
                        settle_seconds.append(settle(engine))
                    load(server, "singles", f"single POSTs x{plan.clients} #{rep}", f"{backend[0]}a{rep}-",
                         plan.clients)
                    settle_seconds.append(settle(engine))
                    load(server, "batches", f"batches of {plan.batch_size} x{plan.batch_clients} #{rep}",
                         f"{backend[0]}b{rep}-", plan.batch_clients, plan.batch_size)
                    settle_seconds.append(settle(engine))
                if plan.profile:
                    result["profile"] = {}
                    for scenario, clients, batch in (("singles", plan.clients, 1),
                                                     ("batches", plan.batch_clients, plan.batch_size)):
                        progress.update(phase, description=f"{backend}: py-spy during {scenario}", completed=0,
                                        total=None, status="")
                        out = RESULTS_DIR / f"ingest-{stamp}-{backend}-{scenario}.pyspy.txt"
                        summary, profiled = profile_load(server, corpus, LoadRun(f"profiled {scenario}", 1, clients,
                                                                                 batch),
                                                         f"{backend[0]}p{scenario[0]}-", plan.seconds, out)
                        result["profile"][scenario] = summary
                        ok &= _check(engine, profiled, f"{backend} profiled {scenario}")
                        runs["profiled"].append(profiled)
                        progress.advance(overall, plan.seconds)
            if backend == "postgres" and plan.workers2:
                singles_only("singles_workers2", 2, plan.broker, "e", "--workers 2")
            if backend == "sqlite" and plan.embedded and plan.broker != "memory://":
                singles_only("singles_embedded", 1, "memory://", "m", "embedded (memory://)")
            # The count check: the log holds exactly what was acknowledged, plus the baseline's rows.
            load_runs = [r for key in ("warmup", "profiled", *SCENARIOS) for r in runs[key]
                         if isinstance(r, LoadRun)]
            acked = sum(r.tx_acked for r in load_runs)
            unknown_stored = sum(r.verification.get("failed_requests_rows_stored", 0) for r in load_runs)
            stored = count_transactions(engine)
            result["count_check"] = {"transactions_in_log": stored, "acknowledged_by_api": acked,
                                     "baseline_rows": extra_rows, "failed_requests_rows_stored": unknown_stored,
                                     "ok": stored == acked + extra_rows + unknown_stored}
            ok &= result["count_check"]["ok"]
            if not result["count_check"]["ok"]:
                console.print(Panel(f"[bold red]{backend}: the log holds {stored:,} transactions but the API "
                                    f"acknowledged {acked:,} and the baselines wrote {extra_rows:,}",
                                    title="COUNT MISMATCH", border_style="red"))
        finally:
            engine.dispose()
            shutil.rmtree(log_dir, ignore_errors=True)
    progress.remove_task(phase)
    result["runs"] = {key: [_run_json(r) for r in value] for key, value in runs.items() if value}
    result["medians"] = _medians(runs)
    result["verified"] = ok
    return result


def _check(engine: sa.Engine, run: LoadRun, label: str) -> bool:
    outcome = verify(engine, run)
    if not outcome["ok"]:
        console.print(Panel(
            f"[bold red]{label}: {outcome['missing']:,} acknowledged transactions are NOT in the log, "
            f"{outcome['position_mismatch']:,} are at another position than their receipt said.\n"
            f"sample: {outcome['missing_sample']}", title="DATA LOSS", border_style="red"))
    if run.errors:
        console.print(f"[yellow]{label}: non-2xx / failed requests: {dict(run.errors)}; "
                      f"{outcome['failed_requests_rows_stored']} of their rows are in the log. "
                      f"{run.error_samples[:2]}")
    return bool(outcome["ok"])


def _run_json(run: LoadRun | BaselineRun) -> dict[str, Any]:
    if isinstance(run, BaselineRun):
        return {"scenario": run.scenario, "rows": run.rows, "seconds": round(run.seconds, 3),
                "rows_per_s": round(run.rate, 1), "cpu": run.cpu}
    return {"scenario": run.scenario, "workers": run.workers, "clients": run.clients, "batch_size": run.batch_size,
            "seconds": round(run.seconds, 3), "requests_ok": run.requests_ok, "transactions_acked": run.tx_acked,
            "rate_per_s": round(run.rate, 1), "requests_per_s": round(run.requests_ok / run.seconds, 1),
            "latency_ms": {"p50": _round(run.latency_ms(0.50)), "p90": _round(run.latency_ms(0.90)),
                           "p99": _round(run.latency_ms(0.99)), "max": _round(run.latency_ms(1.0))},
            "errors": dict(run.errors), "error_samples": run.error_samples, "non_accepted_receipts": run.duplicates,
            "cpu": run.cpu, "verification": run.verification}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _medians(runs: dict[str, list[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in SCENARIOS:
        group = runs.get(key) or []
        if not group:
            continue
        entry: dict[str, Any] = {"rate_per_s": round(median([r.rate for r in group]) or 0, 1),
                                 "runs_per_s": [round(r.rate, 1) for r in group]}
        if isinstance(group[0], LoadRun):
            entry["p50_ms"] = _round(median([r.latency_ms(0.5) for r in group if r.latencies_ns]))
            entry["p99_ms"] = _round(median([r.latency_ms(0.99) for r in group if r.latencies_ns]))
            for cpu_key in ("client_cores", "server_cores", "postgres_cores", "other_cores", "machine_busy_share"):
                entry[cpu_key] = _round(median([r.cpu.get(cpu_key, 0.0) for r in group]))
            entry["requests_per_commit"] = _round(median([r.verification.get("requests_per_commit") or 0.0
                                                          for r in group]))
            entry["api_cpu_us_per_request"] = _round(median([r.cpu.get("server_cores", 0.0) / r.requests_ok
                                                             * r.seconds * 1e6 for r in group if r.requests_ok]))
        else:
            for cpu_key in ("client_cores", "postgres_cores", "other_cores"):
                entry[cpu_key] = _round(median([r.cpu.get(cpu_key, 0.0) for r in group]))
        out[key] = entry
    bare = out.get("bare", {}).get("rate_per_s")
    if bare:
        for key in SCENARIOS[1:]:
            if key in out:
                out[key]["ratio_to_bare"] = round(out[key]["rate_per_s"] / bare, 3)
    return out


LABELS = {
    "bare": ("(c) bare driver executemany x{batch}", "rows/s"),
    "bare_sa": ("(c') SQLAlchemy Core executemany x{batch}", "rows/s"),
    "store": ("(d) store append x{batch}, no HTTP", "rows/s"),
    "singles": ("(a) single POSTs, {clients} clients", "req/s"),
    "batches": ("(b) POSTs of {batch}, {batch_clients} clients", "tx/s"),
    "singles_workers2": ("(a2) (a) with --workers 2", "req/s"),
    "singles_embedded": ("(a3) (a) in embedded mode", "req/s"),
}


def render(results: list[dict[str, Any]], plan: Plan) -> Table:
    table = Table(title=f"fraudlog ingest: medians of {plan.repeats} x {plan.seconds:g} s "
                        f"(baselines: {plan.baseline_rows:,} rows each)")
    for column, justify in (("backend", "left"), ("measurement", "left"), ("median", "right"), ("runs", "right"),
                            ("vs (c)", "right"), ("p50/p99 ms", "right"), ("req/commit", "right"),
                            ("API CPU us/req", "right"), ("cores client/API/PG/other", "right"), ("ok", "center")):
        table.add_column(column, justify=justify, no_wrap=column not in ("runs", "measurement"))  # type: ignore[arg-type]
    for result in results:
        medians = result["medians"]
        for key in SCENARIOS:
            if key not in medians:
                continue
            entry = medians[key]
            label, unit = LABELS[key]
            label = label.format(batch=plan.batch_size, clients=plan.clients, batch_clients=plan.batch_clients)
            ratio = entry.get("ratio_to_bare")
            latency = f"{entry['p50_ms']:.1f}/{entry['p99_ms']:.1f}" if entry.get("p50_ms") is not None else ""
            cpu = "/".join(f"{entry[k]:.2f}" if k in entry else "-"
                           for k in ("client_cores", "server_cores", "postgres_cores", "other_cores"))
            verified = ""
            if key in LOAD_SCENARIOS:
                runs = result["runs"][key]
                verified = "[green]yes" if all(r["verification"].get("ok") for r in runs) else "[bold red]LOST"
            per_commit = f"{entry['requests_per_commit']:.1f}" if entry.get("requests_per_commit") else ""
            per_request = f"{entry['api_cpu_us_per_request']:,.0f}" if entry.get("api_cpu_us_per_request") else ""
            table.add_row(result["backend"], label, f"{entry['rate_per_s']:,.0f} {unit}",
                          " ".join(f"{v:,.0f}" for v in entry["runs_per_s"]),
                          f"{ratio:.0%}" if ratio is not None else "", latency, per_commit, per_request, cpu,
                          verified)
        table.add_section()
    return table


def targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checks = []
    for result in results:
        medians = result["medians"]
        if "batches" in medians and "ratio_to_bare" in medians["batches"]:
            ratio = medians["batches"]["ratio_to_bare"]
            checks.append({"backend": result["backend"], "target": "batches >= 50% of bare", "value": ratio,
                           "met": ratio >= TARGET_BATCH_RATIO})
        if result["backend"] == "postgres":
            for key in ("singles", "singles_workers2"):
                if key in medians:
                    rate = medians[key]["rate_per_s"]
                    checks.append({"backend": "postgres", "target": f"{key} >= 2,500 req/s", "value": rate,
                                   "met": rate >= TARGET_SINGLES_PG})
    return checks


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform(), "sqlite": sqlite3.sqlite_version}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        info["loadavg_at_start"] = Path("/proc/loadavg").read_text().split()[:3]
    try:
        import importlib.metadata as md

        info["packages"] = {name: md.version(name) for name in ("litestar", "uvicorn", "msgspec", "sqlalchemy",
                                                                   "psycopg")}
        info["uvicorn_extras"] = {name: _importable(name) for name in ("uvloop", "httptools")}
    except Exception:  # informational only
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "service"], cwd=REPO, capture_output=True,
                               text=True)
        info["git"] = {"commit": commit.stdout.strip(), "service_dirty": bool(dirty.stdout.strip())}
    except OSError:
        pass
    return info


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each measurement (3)")
    parser.add_argument("--seconds", type=float, default=None, help="length of each timed load run (10)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 1 repeat of 3 s, 20,000-row baselines, unless given explicitly")
    parser.add_argument("--baseline-rows", type=int, default=None, help="rows per baseline run (50,000)")
    parser.add_argument("--broker", default="auto",
                        help="FRAUDLOG_BROKER_URL for the API: auto (RabbitMQ, else Redis, on loopback, else "
                             "memory), memory, or a URL. Nobody consumes the doorbells; the queues are deleted")
    parser.add_argument("--embedded", action="store_true",
                        help="SQLite: also single POSTs in embedded mode (memory://, scoring workers in the API)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients for single POSTs")
    parser.add_argument("--batch-clients", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1_000)
    parser.add_argument("--no-workers2", action="store_true", help="skip single POSTs with --workers 2")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed runs, py-spy the API during one extra single-POST run")
    parser.add_argument("--sqlite-dir", default=None, help="where the SQLite file goes (default: the temp dir)")
    args = parser.parse_args(argv)
    quick = {"repeats": 1, "seconds": 3.0, "baseline_rows": 20_000}
    full = {"repeats": 3, "seconds": 10.0, "baseline_rows": 50_000}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.repeats < 1 or args.seconds <= 0 or args.baseline_rows < args.batch_size:
        parser.error("--repeats >= 1, --seconds > 0 and --baseline-rows >= --batch-size")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan(backends=["sqlite", "postgres"] if args.backend == "both" else [args.backend],
                broker=choose_broker(args.broker), embedded=args.embedded,
                repeats=args.repeats, seconds=args.seconds, baseline_rows=args.baseline_rows, clients=args.clients,
                batch_clients=args.batch_clients, batch_size=args.batch_size, workers2=not args.no_workers2,
                profile=args.profile, warmup=min(2.0, args.seconds))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    command = "python -m bench.ingest " + " ".join(argv if argv is not None else sys.argv[1:])
    corpus = load_corpus()
    info = machine_info()
    console.print(f"[bold]fraudlog ingest benchmark[/] {command.strip()}\n"
                  f"bodies: {corpus.source}; machine: {info['nproc']} cores, Python {info['python']}; "
                  f"load client: asyncio HTTP/1.1 in this process; API broker: {plan.broker} "
                  f"(queue prefix {QUEUE_PREFIX}, not consumed)")
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
                  console=console,
                  refresh_per_second=4) as progress:
        overall = progress.add_task("overall (timed load)", total=plan.estimate(), status="")
        try:
            for backend in plan.backends:
                try:
                    results.append(run_backend(backend, plan, corpus, progress, overall, args, stamp))
                except Exception as exc:  # e.g. the database restarted under us: report, go on
                    console.print(f"[bold red]{backend}: the benchmark failed: {type(exc).__name__}: {exc}")
                    results.append({"backend": backend, "error": f"{type(exc).__name__}: {exc}", "medians": {},
                                    "runs": {}, "verified": None})
        finally:
            purge_broker(plan.broker)
        progress.update(overall, completed=plan.estimate())
    elapsed = time.perf_counter() - started
    checks = targets(results)
    verified = all(r["verified"] is not False for r in results)
    failed = [r["backend"] for r in results if "error" in r]
    console.print(render(results, plan))
    for check in checks:
        mark = "[green]met[/]" if check["met"] else "[red]NOT met[/]"
        value = f"{check['value']:.0%}" if check["value"] < 10 else f"{check['value']:,.0f}"
        console.print(f"target {check['backend']}: {check['target']}: {value} {mark}")
    for result in results:
        for profile in (result.get("profile") or {}).values():
            _print_profile(result["backend"], profile)
    document = {"benchmark": "ingest", "command": command.strip(), "started_utc": stamp,
                "elapsed_s": round(elapsed, 1), "machine": info, "bodies": corpus.source,
                "load_client": "asyncio streams, HTTP/1.1 keep-alive, pre-encoded bodies, in the benchmark process",
                "plan": plan.__dict__, "results": results, "targets": checks, "verified": verified}
    out = RESULTS_DIR / f"ingest-{stamp}.json"
    out.write_text(json.dumps(document, indent=2, default=str))
    console.print(f"results: {out.relative_to(REPO)} ({elapsed:.0f} s)")
    if not verified:
        console.print(Panel("[bold red]ACKNOWLEDGED TRANSACTIONS ARE MISSING FROM THE LOG (see above)",
                            border_style="red"))
        return 1
    if failed:
        console.print(f"[bold red]no result for {', '.join(failed)} (see the error above)")
        return 2
    console.print("[green]verified: every acknowledged transaction is in the log at the position its receipt "
                  "named, and the log's count matches.")
    return 0


def _print_profile(backend: str, profile: dict[str, Any]) -> None:
    if "error" in profile:
        console.print(f"[yellow]{backend} profile failed: {profile['error']}")
        return
    console.print(f"[bold]{backend}: py-spy of the API during {profile['scenario']} at "
                  f"{profile['rate_during_profile']:,} tx/s "
                  f"({profile['file']})[/]")
    console.print(f"  threads active (share of wall time): {profile['active_share_by_thread']}")
    console.print("  top self frames: " + "; ".join(f"{name} {share:.0%}" for name, share in profile["top_self"][:10]))


if __name__ == "__main__":
    sys.exit(main())
