"""Ingest benchmark: the real API under load, against the bare database's batched insert rate.

    .venv/bin/python -m bench.ingest [--backend sqlite|postgres|both] [--repeats 3] [--seconds 10] [--quick]

For each backend it creates a fresh database (a throwaway Postgres database, or a SQLite file in a temp dir),
runs `fraudlog db upgrade`, starts `fraudlog serve` as a subprocess and measures, `--repeats` times each:

  (a) single-transaction POSTs from 16 concurrent keep-alive clients: requests/s, p50/p99 latency;
  (b) POSTs of 1,000 transactions from 2 concurrent clients: transactions/s;
  (c) the bare database: the driver's executemany (psycopg 3 / sqlite3, on a connection of the service's
      engine) of the same canonical rows into the same table, 1,000 rows per durable commit, no HTTP: rows/s;
  (c') the same through SQLAlchemy Core's executemany of `insert(events)`;
  (d) for context, the store path without HTTP: EventLog.append_transactions of 1,000-row units;
  (a2) Postgres only: (a) again against `fraudlog serve --workers 2`; (a3) with --embedded, SQLite only: (a)
      in embedded mode (memory:// broker, scoring workers inside the API).

Within a repeat the phases are interleaved (baselines, singles, batches) and the database is settled between
them (VACUUM ANALYZE + CHECKPOINT, or a WAL checkpoint), so one phase's background work does not land on the
next. Bodies are real rows of the credit-card sample (V1..V28 and Amount) with unique
transaction ids, so every answer is a 202 "accepted". After each run every acknowledged id is looked up in the
log (and its position compared with the receipt's); at the end the log's row count must equal the
acknowledged rows plus the baseline rows. Any loss is printed in red and the exit code is 1. The baselines
copy none of the store's code, and the rows each one wrote must read back through the store exactly as the
store writes them (`bench.load.baselines`).

The load client (`bench.load.http`) is a minimal asyncio HTTP/1.1 client (pre-encoded bodies, no httpx, one
ingest key per client) so that the client costs a small, measured fraction of a core: its CPU use is reported
next to the API's, Postgres's and the rest of the machine's. Results go to bench/results/ingest-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.load.baselines import BASELINES, BaselineRun, run_baseline
from bench.load.corpus import Corpus, load_corpus
from bench.load.databases import fresh_database, settle
from bench.load.http import LoadRun, api_keys_setting, timed_load
from bench.load.profile import record_during
from bench.load.reference import REFERENCE_MICROS, scaled_target, score_one_micros
from bench.load.results import REPO, RESULTS_DIR, machine_info, timestamp, write_results
from bench.load.services import QUEUE_PREFIX, ServedProcess, choose_broker, fraudlog_serve, purge_broker, service_env
from bench.load.tables import console
from bench.load.timing import median
from bench.load.verify import last_position, transactions_in_log, verify_acknowledged
from fraudlog.store.engine import create_engine

# The targets.
TARGET_BATCH_RATIO = 0.5
TARGET_SINGLES_PG = 2_500.0


def ingest_env(database_url: str, broker: str = "memory://") -> dict[str, str]:
    """What `fraudlog serve` and `fraudlog db upgrade` run with: the bench keys, one per load client."""
    return service_env(database_url, broker, FRAUDLOG_API_KEYS=api_keys_setting())


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

    def load(server: ServedProcess, workers: int, scenario: str, label: str, prefix: str, clients: int,
             batch: int = 1, seconds: float = plan.seconds) -> LoadRun:
        after = last_position(engine)
        run = timed_load(server.pid, server.port, corpus, LoadRun(scenario, workers, clients, batch), prefix, seconds,
                         tick_for(label, "req/s" if batch == 1 else "tx/s"), db.name)
        nonlocal ok
        ok &= _check(engine, run, after, f"{backend} {label}")
        runs["warmup" if scenario == "warmup" else scenario].append(run)
        return run

    def singles_only(scenario: str, workers: int, broker: str, tag: str, label: str) -> None:
        settle_seconds.append(settle(engine))
        with fraudlog_serve(ingest_env(db.url, broker), log_dir, workers=workers) as server:
            load(server, workers, "warmup", f"warm-up, {label}", f"{backend[0]}{tag}w-", plan.clients,
                 seconds=plan.warmup)
            for rep in range(1, plan.repeats + 1):
                load(server, workers, scenario, f"single POSTs x{plan.clients}, {label} #{rep}",
                     f"{backend[0]}{tag}{rep}-", plan.clients)

    with fresh_database(backend, sqlite_dir=args.sqlite_dir, cli_env=ingest_env("")) as db:
        result["database"] = {"version": db.version, "settings": db.settings}
        engine = create_engine(db.url)
        extra_rows = 0
        settle_seconds: list[float] = []
        result["settle_seconds"] = settle_seconds
        log_dir = Path(tempfile.mkdtemp(prefix="fraudlog-bench-logs-"))
        try:
            with fraudlog_serve(ingest_env(db.url, plan.broker), log_dir) as server:
                load(server, 1, "warmup", "warm-up", f"{backend[0]}w-", plan.clients, seconds=plan.warmup)
                for rep in range(1, plan.repeats + 1):
                    for scenario, tag in zip(BASELINES, ("c", "s", "d"), strict=True):
                        progress.update(phase, description=f"{backend}: baseline {scenario} #{rep}",
                                        total=plan.baseline_rows, completed=0, status="")
                        base = run_baseline(engine, corpus, scenario, f"{backend[0]}{tag}{rep}-",
                                            plan.baseline_rows, plan.batch_size,
                                            lambda n: progress.advance(phase, n), db.name)
                        extra_rows += base.rows
                        ok &= _check_read_back(base, f"{backend} baseline {scenario}")
                        runs[scenario].append(base)
                        progress.update(phase, description=f"{backend}: settling (vacuum, checkpoint)")
                        settle_seconds.append(settle(engine))
                    load(server, 1, "singles", f"single POSTs x{plan.clients} #{rep}", f"{backend[0]}a{rep}-",
                         plan.clients)
                    settle_seconds.append(settle(engine))
                    load(server, 1, "batches", f"batches of {plan.batch_size} x{plan.batch_clients} #{rep}",
                         f"{backend[0]}b{rep}-", plan.batch_clients, plan.batch_size)
                    settle_seconds.append(settle(engine))
                if plan.profile:
                    result["profile"] = {}
                    for scenario, clients, batch in (("singles", plan.clients, 1),
                                                     ("batches", plan.batch_clients, plan.batch_size)):
                        progress.update(phase, description=f"{backend}: py-spy during {scenario}", completed=0,
                                        total=None, status="")
                        out = RESULTS_DIR / f"ingest-{stamp}-{backend}-{scenario}.pyspy.txt"
                        profiled = LoadRun(f"profiled {scenario}", 1, clients, batch)
                        after = last_position(engine)
                        summary = record_during(server.pid, plan.seconds, out, functools.partial(
                            timed_load, server.pid, server.port, corpus, profiled, f"{backend[0]}p{scenario[0]}-"))
                        summary.update(scenario=profiled.scenario, rate_during_profile=round(profiled.rate))
                        result["profile"][scenario] = summary
                        ok &= _check(engine, profiled, after, f"{backend} profiled {scenario}")
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
            stored = transactions_in_log(engine)
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


def _check(engine: Any, run: LoadRun, after_position: int, label: str) -> bool:
    outcome = verify_acknowledged(engine, run, after_position)
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


def _check_read_back(run: BaselineRun, label: str) -> bool:
    if not run.read_back["ok"]:
        console.print(Panel(f"[bold red]{label}: the rows it wrote do not read back as the store writes them: "
                            f"{run.read_back}", title="BASELINE DIFFERS FROM THE STORE", border_style="red"))
    return bool(run.read_back["ok"])


def _run_json(run: LoadRun | BaselineRun) -> dict[str, Any]:
    if isinstance(run, BaselineRun):
        return {"scenario": run.scenario, "rows": run.rows, "seconds": round(run.seconds, 3),
                "rows_per_s": round(run.rate, 1), "cpu": run.cpu, "read_back": run.read_back}
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


def targets(results: list[dict[str, Any]], score_one: float) -> list[dict[str, Any]]:
    """The issue's targets, the single-POST rate scaled to this machine's speed today (`bench.load.reference`)."""
    singles_target = scaled_target(TARGET_SINGLES_PG, score_one)
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
                    checks.append({"backend": "postgres", "value": rate, "met": rate >= singles_target,
                                   "target": f"{key} >= {singles_target:,.0f} req/s (2,500 at score_one "
                                             f"{REFERENCE_MICROS:g} us, here {score_one:.1f} us)"})
    return checks


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
    stamp = timestamp()
    command = "python -m bench.ingest " + " ".join(argv if argv is not None else sys.argv[1:])
    corpus = load_corpus()
    info = machine_info()
    score_one_before = score_one_micros()
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
    info["score_one_micros"] = [round(score_one_before, 2), round(score_one_micros(), 2)]
    checks = targets(results, statistics.mean(info["score_one_micros"]))
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
    out = write_results("ingest", document, stamp=stamp)
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
