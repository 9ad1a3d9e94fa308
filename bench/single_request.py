"""One transaction per request: fraudlog's API against the bare framework, in the same run (issue 30).

    .venv/bin/python -m bench.single_request [--backend postgres|sqlite] [--rounds 3] [--seconds 10] [--clients 16]

Starts `fraudlog serve` (one API process; Postgres by default, a real broker so the API runs no scoring) and
`bench.bare_app` (Litestar + uvicorn validating the same transaction with msgspec and answering 202, nothing
else), then alternates rounds between them, the order flipped every round: `--clients` keep-alive clients
POST one credit-card transaction each request for `--seconds`. For each round it reports requests per second
and the server's CPU per request (its process's /proc counters), and the ratio of fraudlog to the bare app
in that round; the summary is the median of the rounds. fraudlog's answers are durable (committed before the
202), authenticated, rate-limited and idempotent; the bare app's are none of these. The load client is
`bench.load.http`, which reports its own CPU so it can be seen not to be the bottleneck.
Results go to bench/results/single-request-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.load.corpus import load_corpus
from bench.load.databases import fresh_database, settle
from bench.load.http import LoadRun, api_keys_setting, timed_load
from bench.load.reference import score_one_micros
from bench.load.results import machine_info, timestamp, write_results
from bench.load.services import (
    HOST,
    ServedProcess,
    choose_broker,
    fraudlog_serve,
    free_port,
    purge_broker,
    service_env,
)
from bench.load.tables import console
from fraudlog.store.engine import create_engine


@dataclass
class Round:
    """One timed load against one server."""

    server: str
    round: int
    requests_per_second: float
    cpu_us_per_request: float
    server_cores: float
    client_cores: float
    postgres_cores: float
    other_cores: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int


def bare_app(log_dir: Path) -> ServedProcess:
    port = free_port()
    return ServedProcess([sys.executable, "-m", "bench.bare_app", "--host", HOST, "--port", str(port)],
                         service_env("sqlite://"), port, log_dir / f"bare-{port}.log")


def measure(name: str, server: ServedProcess, number: int, args: argparse.Namespace, corpus: Any,
            database: str | None) -> Round:
    run = timed_load(server.pid, server.port, corpus, LoadRun(scenario=name, workers=1, clients=args.clients,
                                                              batch_size=1),
                     prefix=f"{name}-{number}-{timestamp()}-", seconds=args.seconds, postgres_database=database)
    cpu = run.cpu
    requests = max(run.requests_ok, 1)
    return Round(name, number, run.requests_ok / run.seconds, cpu["server_cores"] * run.seconds / requests * 1e6,
                 cpu["server_cores"], cpu["client_cores"], cpu["postgres_cores"], cpu["other_cores"],
                 run.latency_ms(0.5), run.latency_ms(0.99), sum(run.errors.values()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres", help="fraudlog's database")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server, alternating (default 3)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per round (default 10)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    parser.add_argument("--broker", default="auto", help="the broker fraudlog's doorbell rings (default: auto)")
    args = parser.parse_args()

    info = machine_info()
    info["score_one_micros"] = [round(score_one_micros(), 2)]
    corpus = load_corpus()
    broker = choose_broker(args.broker)
    rounds: list[Round] = []
    log_dir = Path(tempfile.mkdtemp(prefix="fraudlog-single-request-"))
    env = service_env("", broker, FRAUDLOG_API_KEYS=api_keys_setting())
    with fresh_database(args.backend, cli_env=env) as db:
        engine = create_engine(db.url)
        with fraudlog_serve({**env, "FRAUDLOG_DATABASE_URL": db.url}, log_dir) as fraudlog, bare_app(log_dir) as bare:
            servers = {"fraudlog": fraudlog, "bare": bare}
            for number in range(args.rounds + 1):  # round 0 warms both up and is not counted
                order = ["bare", "fraudlog"] if number % 2 else ["fraudlog", "bare"]
                for name in order:
                    settle(engine)
                    measured = measure(name, servers[name], number, args, corpus, db.name)
                    console.print(f"round {number}{' (warm-up)' if number == 0 else ''} {name}: "
                                  f"{measured.requests_per_second:,.0f} req/s, "
                                  f"{measured.cpu_us_per_request:,.0f} us CPU/req")
                    if number:
                        rounds.append(measured)
        engine.dispose()
        purge_broker(broker)
    info["score_one_micros"].append(round(score_one_micros(), 2))
    summary = summarise(rounds)
    print_report(rounds, summary, info)
    out = write_results("single-request", {"machine": info, "arguments": vars(args), "summary": summary,
                                           "rounds": [vars(r) for r in rounds]})
    console.print(f"results: {out}")
    return 1 if any(r.errors for r in rounds) else 0


def summarise(rounds: list[Round]) -> dict[str, Any]:
    by_round: dict[int, dict[str, Round]] = {r.round: {} for r in rounds}
    for r in rounds:
        by_round[r.round][r.server] = r
    cpu_ratios = [pair["fraudlog"].cpu_us_per_request / pair["bare"].cpu_us_per_request for pair in by_round.values()]
    rate_ratios = [pair["fraudlog"].requests_per_second / pair["bare"].requests_per_second
                   for pair in by_round.values()]
    return {
        "cpu_ratio_median": round(statistics.median(cpu_ratios), 2), "cpu_ratios": [round(x, 2) for x in cpu_ratios],
        "rate_ratio_median": round(statistics.median(rate_ratios), 2),
        "rate_ratios": [round(x, 2) for x in rate_ratios],
        **{f"{name}_{figure}_median": round(statistics.median(getattr(r, figure) for r in rounds if r.server == name),
                                            1)
           for name in ("fraudlog", "bare") for figure in ("requests_per_second", "cpu_us_per_request")},
    }


def print_report(rounds: list[Round], summary: dict[str, Any], info: dict[str, Any]) -> None:
    table = Table(title=f"one transaction per request, {len({r.round for r in rounds})} rounds "
                        f"(score_one {info['score_one_micros'][0]}-{info['score_one_micros'][-1]} us)")
    for column in ("round", "server", "req/s", "CPU us/req", "server cores", "client cores", "PG cores",
                   "other cores", "p50 / p99 ms"):
        table.add_column(column, justify="right")
    for r in sorted(rounds, key=lambda r: (r.round, r.server)):
        table.add_row(str(r.round), r.server, f"{r.requests_per_second:,.0f}", f"{r.cpu_us_per_request:,.0f}",
                      f"{r.server_cores:.2f}", f"{r.client_cores:.2f}", f"{r.postgres_cores:.2f}",
                      f"{r.other_cores:.2f}", f"{r.p50_ms or 0:.1f} / {r.p99_ms or 0:.1f}")
    console.print(table)
    console.print(f"fraudlog / bare, median of rounds: CPU per request {summary['cpu_ratio_median']}x "
                  f"({summary['cpu_ratios']}), requests per second {summary['rate_ratio_median']}x "
                  f"({summary['rate_ratios']})")


if __name__ == "__main__":
    sys.exit(main())
