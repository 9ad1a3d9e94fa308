"""What authentication and the rate limit cost on ingest: the same API with auth off, on, and on with a limit.

    .venv/bin/python -m bench.auth_cost [--repeats 3] [--seconds 10] [--keys 16]

On SQLite, for each configuration and repeat, a fresh copy of a migrated database and a fresh API process
(uvicorn, one process, the app from `build_app`) that differs only in its settings:

  auth off          no API keys (as in embedded mode): the guard lets every request through
  auth on           `--keys` ingest keys (hashed at start-up; each request's key is HMAC'ed and compared in
                    constant time with every configured hash); FRAUDLOG_RATE_LIMIT=0 (no limit)
  auth + limit      the same keys and the default per-key token bucket (1,000 requests/s, burst 2,000),
                    which this load never reaches: it measures the bucket's bookkeeping, not rejections

Each is measured with `bench.ingest`'s load client: single-transaction POSTs from 16 concurrent keep-alive
clients (one key each), then POSTs of 1,000 transactions from 2 clients. Every request carries a key, so
the bytes on the wire are the same in all three. The API does not ring a doorbell and runs no workers, so
the only difference between configurations is the guard. Configurations are interleaved within each repeat
so that a busy moment on the shared machine does not fall on one of them only. The log's row count is
checked against the acknowledged transactions after every run (exit code 1 on a mismatch or an error).
Results go to bench/results/auth-cost-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load.corpus import Corpus, load_corpus
from bench.load.databases import migrate_with_library, settle
from bench.load.http import API_KEYS, LoadRun, api_keys_setting, timed_load
from bench.load.results import machine_info, timestamp, write_results
from bench.load.services import BENCH_SECRET, HOST, ServedProcess, free_port, service_env
from bench.load.verify import transactions_in_log
from fraudlog.store.engine import create_engine

CONFIGS = ("auth off", "auth on", "auth + limit")
TAGS = {"auth off": "off", "auth on": "on", "auth + limit": "limit"}  # in transaction ids and file names

SCENARIOS = {"singles": (16, 1), "batches": (2, 1_000)}  # name: (clients, transactions per request)


def settings_env(config: str, keys: int) -> dict[str, str]:
    """The environment the API process reads its settings from (`serve` below), per configuration."""
    env = {"FRAUDLOG_SECRET_KEY": BENCH_SECRET, "FRAUDLOG_BROKER_URL": "memory://"}
    if config != "auth off":
        env["FRAUDLOG_API_KEYS"] = api_keys_setting(keys)
    env["FRAUDLOG_RATE_LIMIT"] = "1000" if config == "auth + limit" else "0"
    return env


def serve(port: int) -> None:
    """The API process: the app from the environment's settings, without doorbell or workers."""
    import uvicorn

    from fraudlog.composition import build_app
    from fraudlog.config import Settings

    app = build_app(Settings.from_env())
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


def api_server(database_url: str, config: str, keys: int, log_path: Path) -> ServedProcess:
    """This script's `--serve` process (not started: use it as a context manager)."""
    port = free_port()
    env = service_env(database_url, **settings_env(config, keys))
    return ServedProcess([sys.executable, "-m", "bench.auth_cost", "--serve", str(port)], env, port, log_path)


def measure(server: ServedProcess, corpus: Corpus, scenario: str, prefix: str, seconds: float) -> LoadRun:
    clients, batch = SCENARIOS[scenario]
    run = LoadRun(scenario=scenario, workers=1, clients=clients, batch_size=batch)
    return timed_load(server.pid, server.port, corpus, run, prefix, seconds)


def logged_rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        return transactions_in_log(engine)
    finally:
        engine.dispose()


def run_all(args: argparse.Namespace, work: Path) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], list[str]]:
    template = work / "template.db"
    migrate_with_library(f"sqlite:///{template}")
    engine = create_engine(f"sqlite:///{template}")
    settle(engine)  # the WAL folded into the file, so that a copy of the file is the whole database
    engine.dispose()
    corpus = load_corpus()
    results: dict[str, dict[str, list[dict[str, Any]]]] = {c: {s: [] for s in SCENARIOS} for c in CONFIGS}
    problems: list[str] = []
    for repeat in range(1, args.repeats + 1):
        for config in CONFIGS:
            database = work / f"r{repeat}-{TAGS[config]}.db"
            shutil.copyfile(template, database)
            url = f"sqlite:///{database}"
            with api_server(url, config, args.keys, work / "api.log") as server:
                for scenario in SCENARIOS:
                    run = measure(server, corpus, scenario, f"r{repeat}{TAGS[config]}{scenario[0]}-", args.seconds)
                    results[config][scenario].append(summary(run))
                    print(f"repeat {repeat} {config:<13} {scenario:<8} {run.rate:>9,.0f} tx/s"
                          f"  p50 {run.latency_ms(0.5) or 0:7.2f} ms  p99 {run.latency_ms(0.99) or 0:7.2f} ms"
                          f"  API {run.cpu.get('server_cores', 0):.2f} cores"
                          + (f"  errors {dict(run.errors)}" if run.errors else ""), flush=True)
                    if run.errors:
                        problems.append(f"{config} {scenario} repeat {repeat}: {dict(run.errors)} "
                                        f"{run.error_samples[:1]}")
            stored, acked = logged_rows(url), sum(len(r["acked_ids"]) for s in SCENARIOS
                                                  for r in results[config][s][-1:])
            if stored != acked:
                problems.append(f"{config} repeat {repeat}: {stored} rows in the log, {acked} acknowledged")
            for scenario in SCENARIOS:
                results[config][scenario][-1].pop("acked_ids")
            database.unlink()
    return results, problems


def guard_cost(keys: int, calls: int = 200_000) -> dict[str, float]:
    """The guard alone, in this process: microseconds per request for each configuration (median of 5)."""
    from fraudlog.api.auth import Authenticator, TokenBucket
    from fraudlog.config import parse_api_keys

    configured = parse_api_keys(settings_env("auth on", keys)["FRAUDLOG_API_KEYS"])
    header = f"Bearer {API_KEYS[keys - 1]}"  # the last configured key: every hash is compared anyway
    guards = {"auth off": Authenticator((), BENCH_SECRET.encode(), required=False),
              "auth on": Authenticator(configured, BENCH_SECRET.encode(), required=True),
              "auth + limit": Authenticator(configured, BENCH_SECRET.encode(), required=True,
                                            limiter=TokenBucket(1e12, 1e12))}
    costs = {}
    for config, guard in guards.items():
        samples = []
        for _ in range(5):
            began = time.perf_counter()
            for _ in range(calls // 5):
                guard.throttle(guard.authenticate(header))
            samples.append((time.perf_counter() - began) / (calls // 5) * 1e6)
        costs[config] = round(statistics.median(samples), 2)
    return costs


def summary(run: LoadRun) -> dict[str, Any]:
    return {"tx_per_s": run.rate, "requests_per_s": run.requests_ok / run.seconds if run.seconds else 0.0,
            "p50_ms": run.latency_ms(0.5), "p99_ms": run.latency_ms(0.99), "errors": dict(run.errors),
            "cpu": run.cpu, "acked_ids": set(run.acked)}


def report(results: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    rows = []
    for scenario in SCENARIOS:
        base = statistics.median(r["tx_per_s"] for r in results["auth off"][scenario])
        for config in CONFIGS:
            runs = results[config][scenario]
            rate = statistics.median(r["tx_per_s"] for r in runs)
            rows.append({"scenario": scenario, "config": config, "tx_per_s": round(rate),
                         "ratio": round(rate / base, 3) if base else None,
                         "p50_ms": round(statistics.median(r["p50_ms"] or 0 for r in runs), 2),
                         "p99_ms": round(statistics.median(r["p99_ms"] or 0 for r in runs), 2),
                         "api_cores": round(statistics.median(r["cpu"].get("server_cores", 0) for r in runs), 2),
                         # API CPU per request: auth is CPU work, while throughput here waits on fsync too
                         "api_cpu_us_per_request": round(statistics.median(
                             r["cpu"].get("server_cores", 0) * 1e6 / r["requests_per_s"] for r in runs
                             if r["requests_per_s"])),
                         "runs": [round(r["tx_per_s"]) for r in runs]})
    print(f"\nmedians of {len(next(iter(results.values()))['singles'])} runs")
    print(f"{'scenario':<9} {'configuration':<13} {'tx/s':>9} {'vs off':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'API cores':>9} {'API us/req':>10}  runs")
    for row in rows:
        print(f"{row['scenario']:<9} {row['config']:<13} {row['tx_per_s']:>9,} {row['ratio']:>7.3f} "
              f"{row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['api_cores']:>9.2f} "
              f"{row['api_cpu_us_per_request']:>10,}  {row['runs']}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.auth_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed load run")
    parser.add_argument("--keys", type=int, default=16, help="configured ingest keys (one per single-POST client)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the API process itself
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if not 16 <= args.keys <= len(API_KEYS):
        parser.error(f"--keys must be between 16 (one per client) and {len(API_KEYS)}")
    stamp = timestamp()
    work = Path(tempfile.mkdtemp(prefix="fraudlog-auth-bench-"))
    try:
        results, problems = run_all(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = report(results)
    guard = guard_cost(args.keys)
    print(f"\nthe guard alone ({args.keys} keys), microseconds per request: "
          + ", ".join(f"{config} {cost:.2f}" for config, cost in guard.items()))
    out = write_results("auth-cost", {"command": " ".join(["python -m bench.auth_cost", *(argv or sys.argv[1:])]),
                                      "machine": machine_info(), "keys": args.keys, "seconds": args.seconds,
                                      "medians": rows, "guard_us_per_request": guard, "runs": results,
                                      "problems": problems}, stamp=stamp)
    print(f"results: {out}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
