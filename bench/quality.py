"""Model quality through the running system, on the real credit-card sample.

    python -m bench.quality [--csv PATH (default: the credit-card sample)] [--models logreg hst blend]

For each model: `fraudlog train`'s path for version 1 (the first 10,000 rows imported into the log as
history, then trained on the log), then the remaining 20,000 streamed through the API (embedded mode:
SQLite, in-process workers) in order, each label posted 1,000 transactions after its transaction, and a
retrain every 2,000 transactions. New versions enter as challengers and score in shadow; the embedded
workers evaluate them every 2 s and promote only on evidence (fraudlog.lifecycle.promotion).

Reports the champions' pooled ROC AUC over the streamed rows (from raw scores), their alert rate against
the 2 % target, each version's ROC AUC on the labelled transactions it scored, every promotion with its
evidence and a check that it did not lower the served AUC (both versions backtested on the same
transactions after the promotion), the time a retrain takes and the hot-swap time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench.load.corpus import SAMPLE_CSV
from bench.load.deployment import champion_predictions
from bench.load.results import write_results
from bench.load.services import wait_until
from fraudlog.client import FraudlogClient
from fraudlog.config import RetrainSchedule, Settings
from fraudlog.domain.events import EVENT_PROMOTION
from fraudlog.lifecycle.evaluation import evaluate_challengers
from fraudlog.lifecycle.first_version import train_first_version
from fraudlog.lifecycle.retraining import retrain
from fraudlog.ml.datasets import creditcard_transactions
from fraudlog.ml.metrics import roc_auc
from fraudlog.ml.specs import spec_for
from fraudlog.models.registry import ModelRegistry
from fraudlog.replay.backtest import backtest
from fraudlog.store import migrate
from fraudlog.store.engine import create_engine
from fraudlog.store.lifecycle import LockBusy
from fraudlog.store.stats import served_quality
from fraudlog.store.tables import events, labels, predictions
from tests.support.api import served_api

TRAIN_ROWS, STREAM_ROWS, LABEL_DELAY, RETRAIN_EVERY, BATCH = 10_000, 20_000, 1_000, 2_000, 250
START = datetime(2013, 9, 1, tzinfo=UTC)


def run(model: str, csv: Path, workdir: Path, console: Console) -> dict[str, Any]:
    url = f"sqlite:///{workdir / f'quality-{model}.db'}"
    settings = Settings(database_url=url, secret_key=b"bench-quality", alert_sink="memory://",
                        retrain_every=RetrainSchedule(seconds=86_400))  # the bench retrains by count itself
    engine = create_engine(url)
    migrate.upgrade(engine)
    registry = ModelRegistry(engine, settings.secret_key)
    rows = list(creditcard_transactions(csv, start=START, limit=TRAIN_ROWS + STREAM_ROWS))
    first = train_first_version(registry, rows[:TRAIN_ROWS], spec_for(model))
    retrain_seconds: list[float] = []
    with served_api(settings, background=True) as base, Progress(console=console) as progress:
        task = progress.add_task(f"{model}: streaming", total=STREAM_ROWS)
        client = FraudlogClient(base)
        streamed = rows[TRAIN_ROWS:]
        for sent in range(0, STREAM_ROWS, BATCH):
            client.post("/v1/transactions", [body for body, _ in streamed[sent : sent + BATCH]])
            # Each label arrives LABEL_DELAY transactions after its transaction.
            due = streamed[max(0, sent + BATCH - LABEL_DELAY - BATCH) : max(0, sent + BATCH - LABEL_DELAY)]
            if due:
                client.post("/v1/labels", [{"transaction_id": b["transaction_id"], "is_fraud": y} for b, y in due])
            progress.update(task, completed=sent + BATCH)
            if (sent + BATCH) % RETRAIN_EVERY == 0:
                _wait_scored(engine, sent + BATCH)
                began = time.perf_counter()
                if _retrain(registry) is not None:
                    retrain_seconds.append(time.perf_counter() - began)
        tail = streamed[STREAM_ROWS - LABEL_DELAY :]
        client.post("/v1/labels", [{"transaction_id": b["transaction_id"], "is_fraud": y} for b, y in tail])
        _wait_scored(engine, STREAM_ROWS)
        _settle(registry)
        client.close()
    report = _report(engine, registry, first.metrics)
    report["retrain_seconds_median"] = statistics.median(retrain_seconds) if retrain_seconds else None
    engine.dispose()
    return report


def _retrain(registry: ModelRegistry) -> Any:
    """A retrain; the embedded evaluation may hold the lifecycle lock for a moment."""
    for _ in range(50):
        try:
            return retrain(registry)
        except LockBusy:
            time.sleep(0.1)
    raise TimeoutError("the lifecycle lock stayed busy")


def _settle(registry: ModelRegistry) -> None:
    """One last evaluation with every label in, as the schedule would run it."""
    for _ in range(50):
        try:
            evaluate_challengers(registry)
            return
        except LockBusy:
            time.sleep(0.1)


def _wait_scored(engine: sa.engine.Engine, expected: int, timeout: float = 300) -> None:
    wait_until(lambda: champion_predictions(engine) >= expected, timeout, f"{expected} transactions scored", 0.1)


def _report(engine: sa.engine.Engine, registry: ModelRegistry, bootstrap: dict[str, Any]) -> dict[str, Any]:
    table = registry.assignments()
    per_version = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(predictions.c.model_version, predictions.c.champion, predictions.c.score,
                                      labels.c.is_fraud).select_from(predictions.join(
                                          labels, labels.c.transaction_id == predictions.c.transaction_id))).all()
        swaps = _hot_swaps(conn)
    for record in registry.list():
        mine = [(s, y) for v, _, s, y in rows if v == record.version]
        per_version[record.version] = {
            "status": table.status_of(record.version), "parent": record.parent_version,
            "labels": len(mine), "roc_auc": roc_auc([s for s, _ in mine], [y for _, y in mine]) if mine else None,
            "training_prequential_auc": record.metrics.get("prequential_roc_auc")}
    with engine.connect() as conn:
        served = served_quality(conn)
    return {"bootstrap_prequential_auc": bootstrap["prequential_roc_auc"], "versions": per_version,
            "overall_champion_auc": served["roc_auc"], "labels": served["labels"], "hot_swap_seconds": swaps,
            "champion_alert_rate": served["alert_rate"] or 0.0,
            "promotions": _promotions(engine, registry)}


def _promotions(engine: sa.engine.Engine, registry: ModelRegistry) -> list[dict[str, Any]]:
    """Each automatic promotion: its evidence, and both versions backtested on the same later transactions."""
    out = []
    table = registry.assignments()
    for version in (r.version for r in registry.list()):
        for change in table.changes_of(version):
            decision = change.decision
            if decision is None or decision.kind != "automatic" or decision.action != "promote":
                continue
            evidence = decision.evidence
            if evidence is None:
                continue
            before = evidence.champion
            after_new = backtest(engine, registry, version, start=change.position + 1).candidate
            after_old = backtest(engine, registry, before, start=change.position + 1).candidate
            out.append({"version": version, "replaced": before, "position": change.position,
                        "evidence": msgspec.to_builtins(evidence), "later_auc_new": after_new.get("roc_auc"),
                        "later_auc_old": after_old.get("roc_auc")})
    return out


def _hot_swaps(conn: sa.engine.Connection) -> list[float]:
    """Seconds from each champion promotion's commit to the first prediction by that version."""
    promos = conn.execute(sa.select(events.c.payload, events.c.recorded_at).where(
        events.c.event_type == EVENT_PROMOTION)).all()
    out = []
    for payload, recorded_at in promos:
        if payload.get("role") != "champion":
            continue
        first = conn.execute(sa.select(sa.func.min(predictions.c.scored_at)).where(
            predictions.c.model_version == payload["model_version"], predictions.c.champion)).scalar()
        if first is not None:
            first = first if first.tzinfo else first.replace(tzinfo=UTC)
            out.append((first - recorded_at).total_seconds())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--csv", type=Path, default=SAMPLE_CSV)
    parser.add_argument("--models", nargs="+", default=["logreg", "hst", "blend"])
    args = parser.parse_args()
    console = Console()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            results[model] = run(model, args.csv, Path(tmp), console)
    for model, result in results.items():
        table = Table("version", "status", "parent", "labels", "ROC AUC (served)", "prequential AUC (training)",
                      title=f"{model}: overall champion ROC AUC {_fmt(result['overall_champion_auc'])} on "
                            f"{result['labels']:,} labels")
        for version, v in result["versions"].items():
            table.add_row(str(version), str(v["status"]), str(v["parent"] or "-"), f"{v['labels']:,}",
                          _fmt(v["roc_auc"]), _fmt(v["training_prequential_auc"]))
        console.print(table)
        console.print(f"champion alert rate {result['champion_alert_rate']:.2%} (target 2 %)")
        for p in result["promotions"]:
            e = p["evidence"]
            console.print(f"promotion of v{p['version']} over v{p['replaced']} at position {p['position']}: evidence "
                          f"{e.get('challenger_auc', 0):.4f} vs {e.get('champion_auc', 0):.4f} on "
                          f"{e.get('transactions', 0):,} transactions ({e.get('frauds', 0)} frauds, p = "
                          f"{e.get('p_value', 1):.3g}); afterwards, backtested on the same transactions: "
                          f"{_fmt(p['later_auc_new'])} vs {_fmt(p['later_auc_old'])}")
        swaps = result["hot_swap_seconds"]
        console.print(f"retrain median {result['retrain_seconds_median'] or 0:.2f} s; hot swap (promotion -> first "
                      f"prediction) {', '.join(f'{s * 1000:.0f} ms' for s in swaps[1:]) or '-'}")
    console.print(f"results: {write_results('quality', results)}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
