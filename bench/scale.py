"""Scale-out on Postgres: end-to-end throughput and latency by worker processes, API processes and broker.

    PYTHONPATH=. python -m bench.scale [--events 20000] [--workers 1 2 4] [--api 1 2] [--brokers rabbitmq redis]

Each shape is a fresh database and real processes (`fraudlog serve --workers A`, `dramatiq fraudlog.workers.actors
--processes W --threads 8`), measured as `bench.e2e` measures (`bench.load.deployment`): time from the first
POST of 1,000-transaction batches to the last champion prediction (with the CPU per transaction of the API,
the workers and Postgres), and event-to-prediction latency at 1,000 transactions/s.
"""

from __future__ import annotations

import argparse

from bench.load.deployment import latency, throughput
from bench.load.reference import score_one_micros
from bench.load.results import write_results
from bench.load.services import DEFAULT_AMQP
from bench.load.tables import milliseconds, print_table
from tests.support.models import synthetic_rows

REDIS = "redis://127.0.0.1:6379/14"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--api", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--brokers", nargs="+", default=["rabbitmq", "redis"])
    parser.add_argument("--rate", type=float, default=1_000.0)
    parser.add_argument("--batch", type=int, default=None, help="transactions per POST in the latency run")
    args = parser.parse_args()
    rows = synthetic_rows(args.events, seed=5, cards=2_000)
    results, table = [], []
    for broker in args.brokers:
        for api in args.api:
            for workers in args.workers:
                shape = {"workers": workers, "api_processes": api,
                         "broker": DEFAULT_AMQP if broker == "rabbitmq" else REDIS}
                print(f"{broker}: {api} API process(es), {workers} worker process(es)", flush=True)
                run = throughput("postgres", rows, **shape)
                lat = latency("postgres", rows, args.rate, batch=args.batch, **shape)["event_to_prediction"]
                results.append({"broker": broker, "api": api, "workers": workers, "throughput": run.rate,
                                "cpu_micros_per_tx": run.cpu_micros, "latency": lat})
                table.append((broker, str(api), str(workers), f"{run.rate:,.0f}", f"{run.cpu_micros:,.0f}",
                              " / ".join(milliseconds(v) for v in lat.values())))
    reference = score_one_micros()
    print_table(f"Postgres, {args.events:,} transactions; score_one reference {reference:.1f} us",
                ("broker", "API processes", "worker processes", "end to end (tx/s)", "CPU us per tx",
                 f"event->prediction p50 / p99 at {args.rate:g}/s"), table)
    print(f"results: {write_results('scale', {'shapes': results, 'score_one_micros': reference})}")


if __name__ == "__main__":
    main()
