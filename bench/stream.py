"""The prediction stream: delivery latency with 1, 10 and 50 consumers, and what consumers cost scoring.

    python -m bench.stream [--rates 1000 5000] [--consumers 1 10 50] [--seconds 10] [--events 20000]

Real processes on Postgres + RabbitMQ (`fraudlog serve` and one `dramatiq fraudlog.workers.actors` process, 8 threads),
version 1 = `MinMaxScaler | HalfSpaceTrees`, synthetic transactions on 2,000 cards.

**Delivery latency**: for each rate and consumer count, N streams are opened (`GET /v1/predictions/stream`);
one of them parses every event and records, per champion prediction, the time it arrived minus its
`scored_at` (commit to delivery: the feed's own cost, the batch's commit included) and minus its `event_time`
(= the moment it was sent: the whole push path). The others drain their sockets without parsing, so the
bench process's one interpreter can keep up with 50 streams. Transactions are offered at the rate for
`--seconds` (batches every 50 ms).

**Cost to scoring**, in the same deployment: post `--events` transactions as fast as the API takes them and
time the first POST to the last champion prediction, with no stream open, then with 50 draining streams, then
with none again; the ratio is the time with consumers over the mean time without.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import sqlalchemy as sa

from bench.load.deployment import BENCH_KEY, Rows, champion_predictions, served
from bench.load.results import write_results
from bench.load.services import wait_until
from bench.load.tables import console, milliseconds, print_table
from fraudlog.domain.events import format_time, parse_time
from fraudlog.sse import parse_events
from fraudlog.store.stats import percentiles
from tests.support.models import synthetic_rows


class MeasuringConsumer(threading.Thread):
    """Parses every event; keeps (arrival - scored_at, arrival - event_time) per prediction."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[tuple[float, float]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {BENCH_KEY}", "Accept": "text/event-stream"}
        with httpx.Client(base_url=self.url, timeout=httpx.Timeout(10.0, read=None)) as http, http.stream(
                "GET", "/v1/predictions/stream", headers=headers) as response:
            self.connected.set()
            for event in parse_events(response.iter_lines()):
                if self.stop.is_set():
                    return
                if event.event != "message":
                    continue
                arrived = datetime.now(UTC)
                item = msgspec.json.decode(event.data)
                self.samples.append(((arrived - parse_time(item["scored_at"])).total_seconds(),
                                     (arrived - parse_time(item["event_time"])).total_seconds()))


class DrainingConsumer(threading.Thread):
    """A stream read as bytes and thrown away: a consumer that keeps up, at almost no cost to this process."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.sendall(f"GET /v1/predictions/stream HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                          f"Authorization: Bearer {BENCH_KEY}\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.received = 0
        self.stop = threading.Event()

    def run(self) -> None:
        self.sock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                continue
            if not chunk:
                return
            self.received += len(chunk)

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=5)
        self.sock.close()


def offer(client: httpx.Client, rows: Rows, rate: float, seconds: float) -> int:
    """Post `rate` transactions per second for `seconds` (event_time = send time); how many were sent."""
    batch, period = max(1, int(rate * 0.05)), 0.05
    started, sent = time.perf_counter(), 0
    while sent + batch <= len(rows) and time.perf_counter() - started < seconds:
        now = format_time(datetime.now(UTC))
        response = client.post("/v1/transactions", json=[{**b, "event_time": now} for b, _ in rows[sent:sent + batch]])
        assert response.status_code == 202, response.text
        sent += batch
        time.sleep(max(0.0, started + (sent / batch) * period - time.perf_counter()))
    return sent


def delivery(engine: sa.Engine, client: httpx.Client, rows: Rows, rate: float, consumers: int,
             seconds: float) -> dict[str, Any]:
    url = str(client.base_url)
    measuring = MeasuringConsumer(url)
    measuring.start()
    measuring.connected.wait(30)
    drains = [DrainingConsumer(url) for _ in range(consumers - 1)]
    for drain in drains:
        drain.start()
    time.sleep(0.5)  # every stream registered with the shared reader
    before = champion_predictions(engine)
    sent = offer(client, rows, rate, seconds)
    wait_until(lambda: champion_predictions(engine) >= before + sent, 300, "every transaction scored")
    wait_until(lambda: len(measuring.samples) >= sent, 60, "the measuring consumer to receive them")
    measuring.stop.set()
    for drain in drains:
        drain.close()
    commit, push = zip(*measuring.samples[:sent], strict=True)
    return {"rate": rate, "consumers": consumers, "sent": sent, "achieved_rate": sent / seconds,
            "commit_to_delivery": percentiles(list(commit), (50, 99)),
            "event_to_delivery": percentiles(list(push), (50, 99))}


def scoring_time(engine: sa.Engine, client: httpx.Client, rows: Rows, consumers: int) -> float:
    drains = [DrainingConsumer(str(client.base_url)) for _ in range(consumers)]
    for drain in drains:
        drain.start()
    time.sleep(0.5)
    before = champion_predictions(engine)
    started = time.perf_counter()
    for i in range(0, len(rows), 1_000):
        assert client.post("/v1/transactions", json=[b for b, _ in rows[i:i + 1_000]]).status_code == 202
    wait_until(lambda: champion_predictions(engine) >= before + len(rows), 600, "every transaction scored")
    elapsed = time.perf_counter() - started
    for drain in drains:
        drain.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", nargs="+", type=float, default=[1_000.0, 5_000.0])
    parser.add_argument("--consumers", nargs="+", type=int, default=[1, 10, 50])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--cost-consumers", type=int, default=50)
    args = parser.parse_args()
    results: dict[str, Any] = {"delivery": [], "cost": {}}
    with served("postgres", workers=1) as (engine, client, _running):
        for index, rate in enumerate(args.rates):
            for consumers in args.consumers:
                rows = synthetic_rows(int(rate * args.seconds) + 1_000, seed=1_000 + index * 100 + consumers,
                                      cards=2_000)
                print(f"delivery at {rate:g}/s with {consumers} consumer(s)", flush=True)
                results["delivery"].append(delivery(engine, client, rows, rate, consumers, args.seconds))
        timings = {}
        for phase, consumers in (("none", 0), ("with", args.cost_consumers), ("none again", 0)):
            print(f"scoring {args.events:,} transactions, {consumers} streams open", flush=True)
            rows = synthetic_rows(args.events, seed=90 + len(timings), cards=2_000)
            timings[phase] = scoring_time(engine, client, rows, consumers)
        baseline = statistics.mean([timings["none"], timings["none again"]])
        results["cost"] = {"seconds": timings, "ratio": timings["with"] / baseline, "events": args.events,
                           "consumers": args.cost_consumers}
    _print(results)
    console.print(f"results: {write_results('stream', results)}")


def _print(results: dict[str, Any]) -> None:
    print_table("stream delivery (one measuring consumer among N)",
                ("offered tx/s", "achieved", "consumers", "commit -> delivery p50 / p99",
                 "event -> delivery p50 / p99"),
                [(f"{r['rate']:,.0f}", f"{r['achieved_rate']:,.0f}", str(r["consumers"]),
                  " / ".join(milliseconds(v) for v in r["commit_to_delivery"].values()),
                  " / ".join(milliseconds(v) for v in r["event_to_delivery"].values())) for r in results["delivery"]])
    cost = results["cost"]
    print_table(f"scoring {cost['events']:,} transactions", ("no stream", f"{cost['consumers']} streams",
                                                              "no stream again", "ratio"),
                [(f"{cost['seconds']['none']:.2f} s", f"{cost['seconds']['with']:.2f} s",
                  f"{cost['seconds']['none again']:.2f} s", f"{cost['ratio']:.2f}")])


if __name__ == "__main__":
    main()
