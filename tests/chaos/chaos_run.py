"""The chaos run: transactions and labels flow while everything that can fail does; nothing may be lost.

    python -m tests.chaos.chaos_run --seconds 60

Real processes on Postgres and RabbitMQ: two `fraudlog serve --workers 2` APIs on two ports, three Dramatiq
workers, the scheduler, two relays and a webhook receiver that deduplicates on Idempotency-Key. Client
threads post batches of transactions (and, a little later, their labels) to the two APIs in turn,
re-posting the same batch until it is answered 2xx; only then is it acknowledged. A third of the way in, one
POST brings a burst of 2,000 transactions on one card, each with a new merchant, device and mcc (a hot
card). Meanwhile workers, relays, whole APIs, single API child processes and the scheduler are killed with
SIGKILL at random and restarted, a relay is killed while its request is in flight (mid-batch, after the
receiver took the alert), the receiver now and then takes alerts without answering (a lost
acknowledgement), RabbitMQ is restarted (stop_app / start_app) and Postgres is restarted once.

After the system drains, the run checks that every acknowledged transaction and label is in the log (and
nothing else), every transaction has exactly one champion prediction, the receiver handed each alert to the
customer once (its raw list of hand-overs, not a set of keys), no Idempotency-Key was reused for a
different alert, each API supervisor replaced its killed children, and that `fraudlog replay` reports no
difference (a replay command that cannot run fails the run). It prints a timeline of what it did and a table
of what it checked; it exits 1 on any violation, 2 when a service it needs is missing. It uses a throwaway
database and queue prefix and removes them, and it kills every process it started and brings Postgres and
RabbitMQ back up, whatever happens.

Restarting Postgres and RabbitMQ affects everything else on this machine that uses them: run it where
that is acceptable (CI, a developer's machine), never against shared servers. `--no-service-restarts`
leaves them alone (every other failure still happens), for machines whose services others use.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from fraudlog.alerts.relay import webhook_secret
from fraudlog.api.server import free_port
from fraudlog.config import Settings
from fraudlog.domain.events import EVENT_LABEL, EVENT_TRANSACTION
from fraudlog.ml.datasets import synthetic_stream
from fraudlog.store import migrate
from fraudlog.store.engine import create_engine
from fraudlog.store.tables import alerts, events, predictions
from tests.chaos.checks import API_CHILDREN, Check, Ledger, Observed, judge, replay_check
from tests.chaos.processes import child_pids, command_line, pid_of_local_port
from tests.chaos.receiver import ChaosReceiver
from tests.support.hot_card import hot_rows
from tests.support.models import HISTORY, SECRET, install_version
from tests.support.processes import REPO, service_env
from tests.support.services import RABBITMQ_URL, throwaway_pg_database

KEY = "chaos-ingest-key"
START = datetime(2026, 11, 1, tzinfo=UTC)
# Random actions; workers twice: there are more of them. "lose acks": the receiver takes the next alerts
# and drops the connection instead of answering, so the relay must resend and the receiver deduplicate.
RANDOM_ACTIONS = ("kill worker", "kill worker", "kill relay", "kill api", "kill api child", "kill scheduler",
                  "lose acks")
SERVICE_RESTARTS = ("restart rabbitmq", "restart postgres")
HOT_BURST = 2_000  # transactions of one card in one POST, a third of the way in (issue 27)


class Timeline:
    """What happened when, printed as it happens."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def note(self, text: str) -> None:
        with self._lock:
            print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)


# -- the services: Postgres and RabbitMQ, stopped and always started again ---------------------------------


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come back within {timeout:.0f} s")
        time.sleep(0.2)


class Services:
    """Stops and starts the machine's Postgres cluster and RabbitMQ; `ensure_up` is safe to call any time."""

    def __init__(self, timeline: Timeline, pg_stop_mode: str) -> None:
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        self.pg_version = versions[-1] if versions else ""
        self.pg_stop_mode = pg_stop_mode
        self.timeline = timeline
        self.pg_down = self.rabbit_down = False

    def missing(self, *, restarts: bool) -> list[str]:
        problems = []
        if restarts:
            problems += [f"{tool} is not installed" for tool in ("pg_ctlcluster", "pg_isready", "rabbitmqctl")
                         if shutil.which(tool) is None]
            if not self.pg_version:
                problems.append("no cluster under /etc/postgresql")
        problems += [f"{name} is not listening on 127.0.0.1:{port}" for name, port in (("PostgreSQL", 5432),
                                                                                       ("RabbitMQ", 5672))
                     if not _port_open(port)]
        return problems

    def restart_rabbitmq(self, down_seconds: float) -> None:
        self.timeline.note("RabbitMQ: rabbitmqctl stop_app")
        self.rabbit_down = True
        try:
            subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
            time.sleep(down_seconds)
        finally:
            self._start_rabbitmq()
        self.timeline.note(f"RabbitMQ: start_app (down about {down_seconds:.1f} s)")

    def restart_postgres(self, down_seconds: float) -> None:
        self.timeline.note(f"Postgres: pg_ctlcluster {self.pg_version} main stop -m {self.pg_stop_mode}")
        self.pg_down = True
        try:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.pg_version, "main", "stop",
                            "-m", self.pg_stop_mode], check=True, capture_output=True, timeout=120)
            time.sleep(down_seconds)
        finally:
            self._start_postgres()
        self.timeline.note(f"Postgres: started again (down about {down_seconds:.1f} s)")

    def ensure_up(self) -> None:
        if self.rabbit_down:
            self._start_rabbitmq()
        if self.pg_down:
            self._start_postgres()

    def _start_rabbitmq(self) -> None:
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
        _wait_for(lambda: _port_open(5672), 60, "RabbitMQ")
        self.rabbit_down = False

    def _start_postgres(self) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.pg_version, "main", "start"],
                       capture_output=True, timeout=120)
        _wait_for(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0, 60, "Postgres")
        self.pg_down = False


# -- the processes: started, killed on purpose, and restarted when they die on their own --------------------


@dataclass
class Member:
    name: str
    args: tuple[str, ...]
    process: subprocess.Popen[bytes] | None = None
    held: bool = False  # killed on purpose; whoever killed it restarts it


@dataclass
class Cluster:
    env: dict[str, str]
    run_dir: Path
    timeline: Timeline
    members: dict[str, Member] = field(default_factory=dict)
    unexpected_exits: list[str] = field(default_factory=list)
    stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, *args: str) -> None:
        member = self.members[name] = Member(name, args)
        self._spawn(member)

    def names(self, kind: str) -> list[str]:
        return [name for name in self.members if name.startswith(kind)]

    def running(self, kind: str) -> list[str]:
        """The members of a kind that are up and not already killed on purpose."""
        with self._lock:
            return [name for name in self.names(kind) if not self.members[name].held]

    def kill(self, name: str) -> int:
        with self._lock:
            member = self.members[name]
            member.held = True
            assert member.process is not None
            _kill_group(member.process, signal.SIGKILL)
            return member.process.pid

    def restart(self, name: str) -> int | None:
        """Start `name` again unless it already runs (two kills in a row) or the cluster was stopped."""
        with self._lock:
            member = self.members[name]
            if self.stopped:
                return None
            if member.process is None or member.process.poll() is not None:
                self._spawn(member)
            member.held = False
            assert member.process is not None
            return member.process.pid

    def supervise(self) -> None:
        """Restart whatever died without being killed on purpose, and say so: that is worth knowing."""
        with self._lock:
            for member in self.members.values():
                if self.stopped or member.held or member.process is None or member.process.poll() is None:
                    continue
                code = member.process.returncode
                last = _last_line(self.run_dir / f"{member.name}.log")
                self.unexpected_exits.append(f"{member.name} exited {code}: {last}")
                self.timeline.note(f"{member.name} exited on its own with code {code} ({last}); restarting it")
                self._spawn(member)

    def children(self, name: str) -> list[int]:
        """The live worker processes of a member's supervisor (an API's uvicorn children). uvicorn starts them
        with multiprocessing's spawn, whose command line says so; its resource tracker, also a child, is not
        one of them."""
        with self._lock:
            process = self.members[name].process
            if process is None or process.poll() is not None:
                return []
            return [pid for pid in child_pids(process.pid) if b"spawn_main" in command_line(pid)]

    def kill_child(self, name: str) -> int | None:
        """SIGKILL one child of `name` (not held: its supervisor is expected to replace it)."""
        children = self.children(name)
        if not children:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(children[0], signal.SIGKILL)
        return children[0]

    def member_owning(self, pid: int) -> str | None:
        """The member whose process group `pid` belongs to (members run in their own sessions)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(pid)
            with self._lock:
                return next((m.name for m in self.members.values()
                             if m.process is not None and m.process.pid == group and not m.held), None)
        return None

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for member in self.members.values():
                member.held = True
                if member.process is not None and member.process.poll() is None:
                    _kill_group(member.process, signal.SIGTERM, wait=False)
            deadline = time.monotonic() + 10
            for member in self.members.values():
                if member.process is None:
                    continue
                with contextlib.suppress(subprocess.TimeoutExpired):
                    member.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                _kill_group(member.process, signal.SIGKILL)

    def _spawn(self, member: Member) -> None:
        with open(self.run_dir / f"{member.name}.log", "ab") as log:
            member.process = subprocess.Popen([sys.executable, *member.args], cwd=REPO, env=self.env,
                                              start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def _kill_group(process: subprocess.Popen[bytes], sig: int, wait: bool = True) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
    if wait:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        return lines[-1][-200:] if lines else "no output"
    return "no log"


# -- the clients: post until acknowledged, remember what was -------------------------------------------------


class Client(threading.Thread):
    """Posts batches of 1 to `max_batch` transactions at about `rate` per second, then their labels."""

    def __init__(self, index: int, urls: list[str], ledger: Ledger, stop: threading.Event, give_up: threading.Event,
                 rate: float, max_batch: int, label_delay: float, seed: int) -> None:
        super().__init__(name=f"chaos-client-{index}", daemon=True)
        self.urls, self.ledger, self.stop, self.give_up = urls, ledger, stop, give_up
        self.rate, self.max_batch, self.label_delay = rate, max_batch, label_delay
        self.rng = random.Random(seed * 1_000 + index)
        self.rows = synthetic_stream(10**9, seed=seed * 1_000 + index, start=START, cards=300)
        self.turn = index

    def run(self) -> None:
        labels: deque[tuple[float, list[dict[str, Any]]]] = deque()
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {KEY}"}) as http:
            next_at = time.monotonic()
            while not self.stop.is_set():
                rows = [next(self.rows) for _ in range(self.rng.randint(1, self.max_batch))]
                bodies = [body for body, _ in rows]
                payload: Any = bodies[0] if len(bodies) == 1 and self.rng.random() < 0.5 else bodies
                if self._deliver(http, "/v1/transactions", payload, [b["transaction_id"] for b in bodies]):
                    with self.ledger.lock:
                        self.ledger.transactions.update(b["transaction_id"] for b in bodies)
                    labels.append((time.monotonic() + self.label_delay,
                                   [{"transaction_id": b["transaction_id"], "is_fraud": y} for b, y in rows]))
                while labels and (labels[0][0] <= time.monotonic() or self.stop.is_set()):
                    self._post_labels(http, labels.popleft()[1])
                next_at = max(next_at + len(bodies) / self.rate, time.monotonic() - 1.0)
                self.stop.wait(max(0.0, next_at - time.monotonic()))
            while labels:  # the run is over: every acknowledged transaction still gets its label
                self._post_labels(http, labels.popleft()[1])

    def _post_labels(self, http: httpx.Client, batch: list[dict[str, Any]]) -> None:
        if self._deliver(http, "/v1/labels", batch, [label["transaction_id"] for label in batch]):
            with self.ledger.lock:
                self.ledger.labels.update(label["transaction_id"] for label in batch)

    def _deliver(self, http: httpx.Client, path: str, payload: Any, ids: list[str]) -> bool:
        """POST the same body until it is answered 2xx (acknowledged) or refused as a client error."""
        delay = 0.1
        while True:
            url = self.urls[self.turn % len(self.urls)]
            self.turn += 1
            try:
                response = http.post(url + path, json=payload)
            except httpx.HTTPError as exc:
                self.ledger.count(f"{path} {type(exc).__name__}")
            else:
                self.ledger.count(f"{path} {response.status_code}")
                if response.status_code in (200, 202):
                    return self._receipts_match(path, response.json(), ids)
                if response.status_code < 500 and response.status_code != 429:
                    self.ledger.violation(f"{path} refused a valid body: {response.status_code} {response.text[:300]}")
                    return False
            if self.give_up.is_set():
                self.ledger.violation(f"{path}: a batch of {len(ids)} was never acknowledged (first id {ids[0]})")
                return False
            time.sleep(delay * (0.5 + self.rng.random()))
            delay = min(delay * 2, 2.0)

    def post_hot_card(self, count: int) -> None:
        """One POST of `count` transactions of one card, each with its own merchant, device and mcc: the
        checks then hold for a hot card too (every one scored once, replay identical)."""
        bodies = [body for body, _ in hot_rows(count)]
        ids = [body["transaction_id"] for body in bodies]
        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {KEY}"}) as http:
            if self._deliver(http, "/v1/transactions", bodies, ids):
                with self.ledger.lock:
                    self.ledger.transactions.update(ids)

    def _receipts_match(self, path: str, body: Any, ids: list[str]) -> bool:
        receipts = body if isinstance(body, list) else [body]
        if [r.get("transaction_id") for r in receipts] != ids or not all(isinstance(r.get("position"), int)
                                                                           for r in receipts):
            self.ledger.violation(f"{path}: the receipts do not name the posted ids: {str(body)[:300]}")
            return False
        return True


# -- the chaos: a seeded plan of kills and restarts ---------------------------------------------------------


def chaos_plan(seconds: float, rng: random.Random, *, service_restarts: bool = True) -> list[tuple[float, str]]:
    """Every kind of failure at least once, at random times, plus random kills every few seconds."""
    required = ["kill worker", "kill relay", "kill api", "kill api child", "kill relay mid-batch", "lose acks",
                *(SERVICE_RESTARTS if service_restarts else ())]
    rng.shuffle(required)
    slots = sorted(rng.uniform(0.1, 0.8) * seconds for _ in required)
    plan = list(zip(slots, required, strict=True))
    moment = rng.uniform(1.0, 3.0)
    while moment < 0.9 * seconds:
        plan.append((moment, rng.choice(RANDOM_ACTIONS)))
        moment += rng.uniform(2.0, 5.0)
    return sorted(plan)


class Monkey(threading.Thread):
    def __init__(self, plan: list[tuple[float, str]], cluster: Cluster, services: Services,
                 receiver: ChaosReceiver, timeline: Timeline, rng: random.Random, stop: threading.Event) -> None:
        super().__init__(name="chaos-monkey", daemon=True)
        self.plan, self.cluster, self.services, self.receiver, self.timeline, self.rng, self.stop = (
            plan, cluster, services, receiver, timeline, rng, stop)
        self.done: Counter[str] = Counter()
        self.restarts: list[threading.Thread] = []  # timers that restart killed members, and the relay hunt
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def run(self) -> None:
        started = time.monotonic()
        try:
            for at, action in self.plan:
                if self.stop.wait(max(0.0, started + at - time.monotonic())):
                    return
                done = self._do(action)
                if done is not None:
                    self._count(done)
        except BaseException as exc:  # reported by the main thread; the services are brought back there too
            self.error = exc

    def _count(self, done: str) -> None:
        with self._lock:
            self.done[done] += 1

    def _do(self, action: str) -> str | None:
        """Carry out `action`; returns what was done, as counted in the report (None: counted when it ends)."""
        waits = {"kill api child": self._kill_api_child, "kill relay mid-batch": self._kill_relay_mid_batch}
        if action in waits:
            # Each waits for its moment (an API with children up, a relay's request in flight): the plan goes on.
            hunt = threading.Thread(target=lambda: self._count(waits[action]()), name=f"chaos {action}", daemon=True)
            hunt.start()
            self.restarts.append(hunt)
            return None
        if action == "restart rabbitmq":
            self.services.restart_rabbitmq(self.rng.uniform(2.0, 4.0))
        elif action == "restart postgres":
            self.services.restart_postgres(self.rng.uniform(1.0, 3.0))
        elif action == "lose acks":
            count = self.rng.randint(1, 5)
            self.receiver.lose_next_acks(count)
            self.timeline.note(f"receiver: takes the next {count} alerts without answering")
        else:
            candidates = self.cluster.running(action.removeprefix("kill "))
            if not candidates:
                return action + " (none running)"
            self._kill_and_restart(self.rng.choice(candidates))
        return action

    def _kill_and_restart(self, name: str, why: str = "") -> None:
        pid = self.cluster.kill(name)
        down = self.rng.uniform(0.3, 2.5)
        self.timeline.note(f"SIGKILL {name} (pid {pid}){why}; back in {down:.1f} s")
        restart = threading.Timer(down, self._restart, args=(name,))
        restart.start()
        self.restarts.append(restart)

    def _kill_api_child(self) -> str:
        """SIGKILL one child of a running API, waiting for one whose children are up (it may be restarting)."""
        while not self.stop.is_set():
            candidates = self.cluster.running("api")
            self.rng.shuffle(candidates)
            for name in candidates:
                pid = self.cluster.kill_child(name)
                if pid is not None:
                    self.timeline.note(f"SIGKILL one of {name}'s {API_CHILDREN} children (pid {pid}); "
                                       "its supervisor replaces it")
                    return "kill api child"
            self.stop.wait(0.5)
        return "kill api child (none running before the chaos ended)"

    def _kill_relay_mid_batch(self) -> str:
        """Hold the receiver's answers until a relay's request is in flight, then kill that relay: it dies
        with a claimed batch, after the customer took an alert and before the relay could mark it sent.
        Gives up when the chaos ends (no relay happened to deliver while answers were held)."""
        self.receiver.hold_requests(1.0)
        try:
            while not self.stop.is_set():
                for port in self.receiver.held_ports():
                    pid = pid_of_local_port(port)
                    name = self.cluster.member_owning(pid) if pid is not None else None
                    if name is not None and name.startswith("relay"):
                        self._kill_and_restart(name, " while the receiver holds its request (mid-batch)")
                        return "kill relay mid-batch"
                time.sleep(0.05)
        finally:
            self.receiver.hold_requests(0.0)
        self.timeline.note("no relay request was in flight before the chaos ended: no relay killed mid-batch")
        return "kill relay mid-batch (none caught)"

    def _restart(self, name: str) -> None:
        pid = self.cluster.restart(name)
        if pid is not None:
            self.timeline.note(f"restarted {name} (pid {pid})")

    def finish(self) -> None:
        """Let the current action end (services come back), then wait for the pending restarts."""
        self.stop.set()
        if self.is_alive():
            self.join()
        for restart in self.restarts:
            restart.join()


# -- the run ------------------------------------------------------------------------------------------------


def throwaway_database() -> contextlib.AbstractContextManager[str]:
    # Postgres may still be coming back from the monkey's restart when the run ends: retry the drop.
    return throwaway_pg_database(f"fraudlog_chaos_{uuid.uuid4().hex[:10]}", drop_attempts=30)


def delete_queues(prefix: str) -> None:
    listed = subprocess.run(["rabbitmqctl", "list_queues", "-q", "name"], capture_output=True, text=True, timeout=60)
    for name in listed.stdout.split():
        if name.startswith(prefix + "."):
            subprocess.run(["rabbitmqctl", "delete_queue", name], capture_output=True, timeout=60)


def progress(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        tx = conn.execute(sa.select(sa.func.count()).select_from(events)
                          .where(events.c.event_type == EVENT_TRANSACTION)).scalar_one()
        scored = conn.execute(sa.select(sa.func.count(sa.distinct(predictions.c.transaction_id)))
                              .where(predictions.c.champion)).scalar_one()
        by_status = dict(conn.execute(sa.select(alerts.c.status, sa.func.count()).group_by(alerts.c.status)).all())
    return {"transactions": int(tx), "scored": int(scored), "alerts": int(sum(by_status.values())),
            "alerts_sent": int(by_status.get("sent", 0))}


def drain(engine: Engine, ledger: Ledger, receiver: ChaosReceiver, cluster: Cluster, timeline: Timeline,
          timeout: float) -> None:
    """Wait until every acknowledged transaction is scored and every alert delivered (or the timeout)."""
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while time.monotonic() < deadline:
        cluster.supervise()
        try:
            now = progress(engine)
        except sa.exc.OperationalError:
            time.sleep(1)
            continue
        delivered = receiver.counts()[1]
        if (now["scored"] >= len(ledger.transactions) and now["alerts_sent"] == now["alerts"]
                and delivered >= now["alerts"]):
            timeline.note(f"drained: {now['scored']} scored, {now['alerts']} alerts sent, {delivered} delivered")
            time.sleep(2)  # let a late duplicate arrive, so that the checks would see it
            return
        if time.monotonic() - last_report > 10:
            last_report = time.monotonic()
            timeline.note(f"draining: {now['scored']}/{len(ledger.transactions)} scored, "
                          f"{now['alerts_sent']}/{now['alerts']} alerts sent, {delivered} delivered")
        time.sleep(0.5)
    timeline.note(f"gave up draining after {timeout:.0f} s")
    for row in undelivered(engine):
        timeline.note(f"  not sent: {row}")


def undelivered(engine: Engine, limit: int = 10) -> list[str]:
    """The outbox rows still not sent, with what the relay recorded about them (why a drain gave up)."""
    columns = (alerts.c.id, alerts.c.type, alerts.c.status, alerts.c.attempts, alerts.c.created_at,
               alerts.c.available_at, alerts.c.locked_until, alerts.c.last_error)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(*columns).where(alerts.c.status != "sent")
                                .order_by(alerts.c.created_at).limit(limit)).all()
    except sa.exc.OperationalError as exc:
        return [f"(could not read the outbox: {exc})"]
    return [", ".join(f"{column.name}={value}" for column, value in zip(columns, row, strict=True)) for row in rows]


def observe(engine: Engine, receiver: ChaosReceiver, cluster: Cluster) -> Observed:
    with engine.connect() as conn:
        # The history version 1 was trained on was imported before the run, not posted by its clients.
        logged = {tx for tx, in conn.execute(sa.select(events.c.transaction_id)
                                               .where(events.c.event_type == EVENT_TRANSACTION))
                  if not tx.startswith(HISTORY)}
        labelled = {tx for tx, in conn.execute(sa.select(events.c.transaction_id)
                                                 .where(events.c.event_type == EVENT_LABEL))}
        champions = Counter(tx for tx, in conn.execute(sa.select(predictions.c.transaction_id)
                                                         .where(predictions.c.champion)))
        outbox = dict(conn.execute(sa.select(alerts.c.id, alerts.c.status)).all())
    return Observed(logged, labelled, champions, outbox, list(receiver.handed_over), Counter(receiver.requests_by_key),
                    receiver.raw_requests, receiver.rejected_signatures, receiver.reused_keys,
                    api_children(cluster))


def api_children(cluster: Cluster, settle: float = 15.0) -> dict[str, int]:
    """Children per API, once each supervisor had time to replace a child killed near the end."""
    deadline = time.monotonic() + settle
    while True:
        counts = {name: len(cluster.children(name)) for name in cluster.names("api")}
        if all(n == API_CHILDREN for n in counts.values()) or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def print_report(checks: list[Check], ledger: Ledger, cluster: Cluster, monkey: Monkey) -> None:
    print("\nwhat the chaos did:", flush=True)
    for action, count in sorted(monkey.done.items()):
        print(f"  {action:<20} x{count}")
    print("\nanswers the clients got (each batch re-posted until 2xx):")
    for answer, count in sorted(ledger.answers.items()):
        print(f"  {answer:<45} {count}")
    if cluster.unexpected_exits:
        print("\nprocesses that exited without being killed (restarted by the run):")
        for line in cluster.unexpected_exits:
            print(f"  {line}")
    width = max(len(c.name) for c in checks)
    print(f"\n{'check':<{width}}  result  detail")
    for check in checks:
        print(f"{check.name:<{width}}  {'PASS' if check.ok else 'FAIL':<6}  {check.detail}")
    print(flush=True)


def run(args: argparse.Namespace) -> int:
    timeline = Timeline()
    services = Services(timeline, args.pg_stop_mode)
    missing = services.missing(restarts=not args.no_service_restarts)
    if missing:
        print("chaos run: cannot run: " + "; ".join(missing), file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    prefix = f"fraudlog-chaos-{uuid.uuid4().hex[:8]}"
    run_dir = Path(tempfile.mkdtemp(prefix="fraudlog-chaos-"))
    print(f"chaos run: {args.seconds:g} s, seed {args.seed}, queues {prefix}.*, logs in {run_dir}", flush=True)
    ok = False
    try:
        secret = webhook_secret(Settings(secret_key=SECRET))
        with throwaway_database() as url, ChaosReceiver(secret) as receiver:
            ok = _run_against(url, receiver, prefix, run_dir, timeline, services, rng, args)
    except Exception as exc:
        timeline.note(f"the run failed: {exc!r}")
    finally:
        services.ensure_up()
        with contextlib.suppress(Exception):
            delete_queues(prefix)
        if ok and not args.keep_logs:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"process logs kept in {run_dir}", flush=True)
    return 0 if ok else 1


def _run_against(url: str, receiver: ChaosReceiver, prefix: str, run_dir: Path, timeline: Timeline,
                 services: Services, rng: random.Random, args: argparse.Namespace) -> bool:
    engine = create_engine(url)
    migrate.upgrade(engine)
    install_version(engine, model="hst", alert_rate=0.02)  # alerts on about a tenth of this traffic
    env = service_env(url, RABBITMQ_URL, FRAUDLOG_ALERT_SINK=receiver.url, FRAUDLOG_QUEUE_PREFIX=prefix,
                      FRAUDLOG_API_KEYS=f"chaos:ingest:{KEY}", FRAUDLOG_SWEEP_GRACE="3",
                      FRAUDLOG_RETRAIN_EVERY="3600s", FRAUDLOG_ALERT_VISIBILITY_TIMEOUT="5",
                      FRAUDLOG_ALERT_TIMEOUT="2", FRAUDLOG_LOG_LEVEL="WARNING")
    cluster = Cluster(env, run_dir, timeline)
    stop_clients, give_up, stop_monkey = threading.Event(), threading.Event(), threading.Event()
    ledger = Ledger()
    plan = chaos_plan(args.seconds, rng, service_restarts=not args.no_service_restarts)
    monkey = Monkey(plan, cluster, services, receiver, timeline, rng, stop_monkey)
    try:
        ports = [free_port(), free_port()]
        for index, port in enumerate(ports, 1):
            cluster.add(f"api-{index}", "-m", "fraudlog.cli", "serve", "--port", str(port),
                        "--workers", str(API_CHILDREN))
        for index in range(1, 4):
            cluster.add(f"worker-{index}", "-m", "dramatiq", "fraudlog.workers.actors", "--processes", "1",
                        "--threads", "4")
        cluster.add("scheduler", "-m", "fraudlog.cli", "scheduler", "--sweep-every", "2", "--alerts-every", "2")
        for index in (1, 2):
            cluster.add(f"relay-{index}", "-m", "fraudlog.cli", "relay")
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        _wait_for(lambda: all(_healthy(u) for u in urls), 60, "the API processes")
        timeline.note(f"started {len(cluster.members)} processes: {', '.join(cluster.members)}")
        clients = [Client(i, urls, ledger, stop_clients, give_up, args.rate / args.clients, args.max_batch,
                          args.label_delay, args.seed) for i in range(args.clients)]
        for client in clients:
            client.start()
        monkey.start()
        end = time.monotonic() + args.seconds
        hot_card = threading.Timer(args.seconds / 3, clients[0].post_hot_card, args=(HOT_BURST,))
        hot_card.daemon = True
        hot_card.start()
        timeline.note(f"a burst of {HOT_BURST} transactions on one card is posted in {args.seconds / 3:.0f} s")
        last_report = time.monotonic()
        while time.monotonic() < end and monkey.error is None:
            cluster.supervise()
            time.sleep(0.5)
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                with contextlib.suppress(sa.exc.OperationalError):
                    now = progress(engine)
                    timeline.note(f"{len(ledger.transactions)} transactions acknowledged, {now['scored']} scored, "
                                  f"{now['alerts_sent']}/{now['alerts']} alerts sent")
        monkey.finish()
        if monkey.error is not None:
            raise RuntimeError(f"the chaos itself failed: {monkey.error!r}") from monkey.error
        stop_clients.set()
        timeline.note(f"chaos over; clients finishing ({len(ledger.transactions)} transactions acknowledged)")
        _join_clients(clients, cluster, give_up, timeout=120)
        hot_card.join()  # it gives up with the clients
        timeline.note(f"clients done: {len(ledger.transactions)} transactions, {len(ledger.labels)} labels "
                      "acknowledged")
        drain(engine, ledger, receiver, cluster, timeline, timeout=max(180.0, 3 * args.seconds))
        checks = judge(observe(engine, receiver, cluster), ledger, replay_check(env))
        print_report(checks, ledger, cluster, monkey)
        return all(check.ok for check in checks)
    finally:
        stop_clients.set()
        give_up.set()
        monkey.finish()
        services.ensure_up()
        cluster.stop()
        engine.dispose()


def _join_clients(clients: list[Client], cluster: Cluster, give_up: threading.Event, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(c.is_alive() for c in clients) and time.monotonic() < deadline:
        cluster.supervise()
        time.sleep(0.5)
    give_up.set()  # whatever is still unacknowledged now is a violation
    for client in clients:
        client.join(timeout=30)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.chaos_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long traffic flows under chaos")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--rate", type=float, default=300.0, help="transactions per second, all clients together")
    parser.add_argument("--max-batch", type=int, default=40, help="largest batch a client posts")
    parser.add_argument("--label-delay", type=float, default=2.0, help="seconds before a transaction's label")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000, help="seeds the plan and traffic")
    parser.add_argument("--pg-stop-mode", choices=("fast", "immediate"), default="fast",
                        help="how Postgres is stopped (immediate: a crash, recovered at start, slower to come back)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the process logs even when all passes")
    parser.add_argument("--no-service-restarts", action="store_true",
                        help="never restart Postgres or RabbitMQ (they serve others on this machine); every other "
                             "failure still happens")
    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout) must still reach the finally blocks that restart services and kill children.
    signal.signal(signal.SIGTERM, _interrupt)
    return run(args)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
