"""Model quality through the running system, on the real credit-card sample.

    python -m bench.quality [--csv ../shared/data/creditcard_sample.csv.gz] [--models hst logreg]

For each model: train version 1 on the first 10,000 rows, then stream the remaining 20,000 through the API
(embedded mode: SQLite, in-process workers) in order, with each label posted 1,000 transactions after its
transaction, and retrain every 2,000 transactions (the promotion policy decides champion or challenger).
Reports ROC AUC per version on the labels that arrived (from raw scores), overall ROC AUC of the champions'
predictions, the time a retrain takes, and the hot-swap time: from a promotion's commit to the first
prediction by the new champion.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from service.api.app import create_app
from service.api.server import serve_in_thread
from service.bootstrap import train_first_version
from service.client import FraudlogClient
from service.config import RetrainSchedule, Settings
from service.ml.datasets import creditcard_transactions
from service.ml.metrics import roc_auc
from service.ml.specs import spec_for
from service.retrain import retrain
from service.store import migrate
from service.store.engine import create_engine
from service.store.registry import ModelRegistry
from service.store.tables import EVENT_PROMOTION, events, labels, predictions
from workers.wiring import broker_wiring

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "creditcard_sample.csv.gz"
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
    first = train_first_version(registry, rows[:TRAIN_ROWS], spec_for(model), source=f"csv:{csv.name}")
    retrain_seconds: list[float] = []
    with serve_in_thread(create_app(settings, wiring=broker_wiring)) as base, \
            Progress(console=console) as progress:
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
                if retrain(registry) is not None:
                    retrain_seconds.append(time.perf_counter() - began)
        tail = streamed[STREAM_ROWS - LABEL_DELAY :]
        client.post("/v1/labels", [{"transaction_id": b["transaction_id"], "is_fraud": y} for b, y in tail])
        _wait_scored(engine, STREAM_ROWS)
        client.close()
    report = _report(engine, registry, first.metrics)
    report["retrain_seconds_median"] = statistics.median(retrain_seconds) if retrain_seconds else None
    engine.dispose()
    return report


def _wait_scored(engine: sa.engine.Engine, expected: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            done = conn.execute(sa.select(sa.func.count()).select_from(predictions)
                                .where(predictions.c.champion)).scalar_one()
        if done >= expected:
            return
        time.sleep(0.1)
    raise TimeoutError(f"only {done} of {expected} transactions scored")


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
    champions = [(s, y) for _, c, s, y in rows if c]
    return {"bootstrap_prequential_auc": bootstrap["prequential_roc_auc"], "versions": per_version,
            "overall_champion_auc": roc_auc([s for s, _ in champions], [y for _, y in champions]),
            "labels": len(champions), "hot_swap_seconds": swaps}


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--models", nargs="+", default=["hst", "logreg"])
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
        swaps = result["hot_swap_seconds"]
        console.print(f"retrain median {result['retrain_seconds_median'] or 0:.2f} s; hot swap (promotion -> first "
                      f"prediction) {', '.join(f'{s * 1000:.0f} ms' for s in swaps[1:]) or '-'}")
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"quality-{int(time.time())}.json").write_text(json.dumps(results, indent=2, default=str))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
