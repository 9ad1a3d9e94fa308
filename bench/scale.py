"""Scale-out on Postgres: end-to-end throughput and latency by worker processes, API processes and broker.

    PYTHONPATH=. python -m bench.scale [--events 20000] [--workers 1 2 4] [--api 1 2] [--brokers rabbitmq redis]

Each shape is a fresh database and real processes (`fraudlog serve --workers A`, `dramatiq workers.actors
--processes W --threads 8`), measured as in bench/e2e.py: time from the first POST of 1,000-transaction
batches to the last champion prediction, and event-to-prediction latency at 1,000 transactions/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.e2e import AMQP, REPO, latency, throughput
from tests.support.models import synthetic_rows

REDIS = "redis://127.0.0.1:6379/14"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--api", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--brokers", nargs="+", default=["rabbitmq", "redis"])
    parser.add_argument("--rate", type=float, default=1_000.0)
    args = parser.parse_args()
    console = Console()
    rows = synthetic_rows(args.events, seed=5, cards=2_000)
    results = []
    table = Table("broker", "API processes", "worker processes", "end to end (tx/s)",
                  f"event->prediction p50 / p99 at {args.rate:g}/s", title=f"Postgres, {args.events:,} transactions")
    with tempfile.TemporaryDirectory() as tmp:
        for broker in args.brokers:
            for api in args.api:
                for workers in args.workers:
                    url = AMQP if broker == "rabbitmq" else REDIS
                    shape = {"workers": workers, "api_processes": api, "broker": url}
                    tag = f"{broker}_{api}_{workers}"
                    console.print(f"{broker}: {api} API process(es), {workers} worker process(es)")
                    rate = throughput("postgres", rows, Path(tmp), f"t{tag}", **shape)
                    lat = latency("postgres", rows, args.rate, Path(tmp), f"l{tag}", **shape)["event_to_prediction"]
                    results.append({"broker": broker, "api": api, "workers": workers, "throughput": rate,
                                    "latency": lat})
                    table.add_row(broker, str(api), str(workers), f"{rate:,.0f}",
                                  " / ".join("-" if v is None else f"{v * 1000:.0f} ms" for v in lat.values()))
    console.print(table)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"scale-{int(time.time())}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
