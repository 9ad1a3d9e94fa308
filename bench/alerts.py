"""Alert delivery benchmark: alerts per second from the outbox to a sink.

    .venv/bin/python -m bench.alerts [--backend sqlite|postgres|both] [--alerts 5000] [--repeats 3]

For each backend and repeat it creates a fresh, migrated database, inserts N due alerts, and drains them
with real relay processes (`deliver_pending`, default RelaySettings, batch 100) into one of:

  webhook x1   one relay  -> the test receiver (HMAC verify + Idempotency-Key dedupe), in this process
  webhook x2   two relays at once -> the same receiver (SKIP LOCKED / BEGIN IMMEDIATE claims)
  jsonl x1     one relay  -> a JSON-lines file, fsync per alert
  memory x1    one relay  -> an in-memory sink: the outbox's own cost (claim + mark sent)

The rate is N / (time from the relays' common start until the last one finishes). Every run checks that
all N alerts are marked sent and, for the webhook, that the receiver got each key exactly once; a failed
check is printed and makes the exit code 1. Results go to bench/results/alerts-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench.load.databases import fresh_database
from bench.load.results import REPO, machine_info, write_results
from fraudlog.alerts.relay import deliver_pending
from fraudlog.alerts.sinks import sink_from_url
from fraudlog.store.engine import create_engine, write_transaction
from fraudlog.store.outbox import SENT, count_by_status, insert_alert
from tests.support.receiver import WebhookReceiver  # the same receiver the tests trust

SECRET = "whsec-bench"
START_DELAY_SECONDS = 2.0  # long enough for every relay process to import and connect before the start
SCENARIOS = {"webhook x1": ("webhook", 1), "webhook x2": ("webhook", 2), "jsonl x1": ("jsonl", 1),
             "memory x1": ("memory", 1)}


def seed(url: str, count: int) -> None:
    engine = create_engine(url, poolclass=sa.NullPool)
    start = datetime.now(UTC) - timedelta(minutes=1)
    with write_transaction(engine) as conn:
        for i in range(count):
            insert_alert(conn, transaction_id=f"bench-{i:07d}", card_id=f"card-{i % 1000}", score=0.97,
                         threshold=0.8, model_version=1, position=i + 1, created_at=start)
    engine.dispose()


def run_relays(url: str, sink_url: str, relays: int) -> list[dict[str, float]]:
    start_at = time.time() + START_DELAY_SECONDS
    command = [sys.executable, "-m", "bench.alerts", "relay", url, sink_url, str(start_at)]
    processes = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(relays)]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    if any(process.returncode for process in processes):
        raise RuntimeError(f"a relay process failed: {outputs}")
    return [json.loads(output) for output in outputs]


def relay_main(url: str, sink_url: str, start_at: float) -> None:
    """One relay process: wait for the common start, drain the outbox, report what it sent and when it ended."""
    engine = create_engine(url)
    sink = sink_from_url(sink_url, SECRET.encode())
    time.sleep(max(0.0, start_at - time.time()))
    report = deliver_pending(engine, sink, max_batches=10**6)
    elapsed = time.time() - start_at
    sink.close()
    print(json.dumps({"sent": report.sent, "failed": report.failed_attempts, "elapsed": elapsed}))


def one_run(backend: str, scenario: str, count: int) -> dict[str, Any]:
    kind, relays = SCENARIOS[scenario]
    with fresh_database(backend) as db, WebhookReceiver(SECRET.encode()) as receiver, \
            tempfile.TemporaryDirectory(prefix="fraudlog-bench-sink-") as sink_dir:
        url = db.url
        seed(url, count)
        sink_url = {"webhook": receiver.url, "jsonl": f"jsonl://{sink_dir}/alerts.jsonl",
                    "memory": "memory://"}[kind]
        reports = run_relays(url, sink_url, relays)
        engine = create_engine(url, poolclass=sa.NullPool)
        sent = count_by_status(engine)[SENT]
        engine.dispose()
        problems = [] if sent == count else [f"{count - sent} alerts not marked sent"]
        if kind == "webhook" and (receiver.raw_requests, len(receiver.delivered)) != (count, count):
            problems.append(f"receiver: {receiver.raw_requests} requests, {len(receiver.delivered)} delivered")
    seconds = max(report["elapsed"] for report in reports)
    return {"backend": backend, "scenario": scenario, "alerts": count, "seconds": round(seconds, 3),
            "alerts_per_s": round(count / seconds), "sent_per_relay": [r["sent"] for r in reports],
            "problems": problems}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--alerts", type=int, default=5_000, help="alerts per run (default 5000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per scenario; the median is reported")
    parser.add_argument("--scenario", choices=list(SCENARIOS), action="append", help="default: all")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["relay"]:
        relay_main(argv[1], argv[2], float(argv[3]))
        return 0
    args = parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rows, failed = [], False
    print(f"{'backend':<10} {'scenario':<12} {'alerts/s (median)':>18}  runs")
    for backend in backends:
        for scenario in args.scenario or list(SCENARIOS):
            runs = [one_run(backend, scenario, args.alerts) for _ in range(args.repeats)]
            rate = statistics.median(run["alerts_per_s"] for run in runs)
            print(f"{backend:<10} {scenario:<12} {rate:>18,.0f}  {[run['alerts_per_s'] for run in runs]}")
            for problem in (p for run in runs for p in run["problems"]):
                failed = True
                print(f"  CHECK FAILED: {problem}")
            rows.append({"backend": backend, "scenario": scenario, "median_alerts_per_s": rate, "runs": runs})
    out = write_results("alerts", {"machine": machine_info(), "results": rows})
    print(f"results: {out.relative_to(REPO)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
