"""The learning loop offline: model specs and promotion policies under the quality protocol, in seconds.

    python -m bench.learning [--csv PATH (default: the credit-card sample)] [--specs logreg hst blend]
                             [--policies evidence always frozen] [--cards N]
                             [--card-categories country,merchant_id,device_id,mcc,channel]

The protocol of `bench.quality` without the API, so that designs can be compared quickly and on the same
footing: version 1 learns rows 0-9,999; rows 10,000-29,999 are served in order by the champion, frozen;
every 2,000 rows (at row t) a new version is trained afresh (`fraudlog.ml.training.fit`) on every label of
rows before t - 1,000, with its threshold calibrated on the newest 10,000 rows; then the policy decides:
`evidence` is the service's own (`fraudlog.lifecycle.promotion`: shadow scores, at least 30 labelled frauds,
DeLong's test), `always` promotes every new version, `frozen` never does. Features are the service's own
(`fraudlog.domain.features.batch_features`). Reports the champions' pooled ROC AUC over the served rows, the
alert rate for a 2 % target, and the promotions made.

With `--card-categories`, each spec runs twice on the same stream: without the per-card categorical features
(`fraudlog.domain.categorical`) and with them; `logreg` also runs with no text at all (numbers only), so the
table shows what the text attributes and what the card features add.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fraudlog.domain.events import parse_time
from fraudlog.domain.features import TxView, batch_features
from fraudlog.lifecycle.promotion import PromotionPolicy, Shadow, decide
from fraudlog.ml.datasets import creditcard_transactions, synthetic_stream
from fraudlog.ml.metrics import roc_auc
from fraudlog.ml.specs import ModelSpec, custom_spec, score_one, spec_for
from fraudlog.ml.training import TrainingData, calibrate, fit

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "creditcard_sample.csv.gz"
START = datetime(2013, 9, 1, tzinfo=UTC)


def load(csv: Path | None, rows: int, cards: int | None, clock_gap: float | None = None,
         categories: tuple[str, ...] = ()) -> tuple[list[dict[str, Any]], list[bool]]:
    source = (creditcard_transactions(csv, start=START, cards=cards, limit=rows) if csv
              else synthetic_stream(rows, start=START, cards=cards or 500))
    bodies, labels = zip(*source, strict=True)
    # With a clock gap, row i happens i * gap seconds after the first, as `fraudlog demo` streams them.
    times = [START + timedelta(seconds=i * clock_gap) if clock_gap else parse_time(b["event_time"])
             for i, b in enumerate(bodies)]
    views = [TxView(i + 1, b["transaction_id"], b.get("card_id"), times[i], float(b["amount"]),
                    dict(sorted(b["attributes"].items()))) for i, b in enumerate(bodies)]
    features = batch_features(views, [], categories)
    return [features[v.position] for v in views], list(labels)


def variants(name: str, spec: ModelSpec, features: list[dict[str, Any]], categories: tuple[str, ...],
             ) -> list[tuple[str, ModelSpec, list[dict[str, Any]]]]:
    """The runs of one spec: as is, or without and with the card categorical features (see the docstring)."""
    if not categories:
        return [(name, spec, features)]
    without = [spec.own_features(f, categories) for f in features]
    runs = [(f"{name}, no card categories", spec, without),
            (f"{name} + card categories", spec.with_categories(categories), features)]
    if spec.name == "logreg":
        runs.insert(0, (f"{name}, numbers only", spec_for("logreg", one_hot=[], hash_features=0), without))
    return runs


def train(spec: ModelSpec, features: list[dict[str, Any]], labels: list[bool | None], rate: float) -> Any:
    data = TrainingData()
    for f, y in zip(features, labels, strict=True):
        data.append(f, y)
    model, _ = fit(spec, data)
    return model, calibrate(model, spec, data, rate).threshold


def run(spec: ModelSpec, policy: str, features: list[dict[str, Any]], labels: list[bool], *, train_rows: int,
        every: int, delay: int, rate: float) -> dict[str, Any]:
    versions = [train(spec, features[:train_rows], labels[:train_rows], rate)]
    champion, challengers = 0, []
    served: list[tuple[float, bool]] = []
    alerts = 0
    shadow: dict[int, list[tuple[int, float]]] = {0: []}  # version -> (row, score) for rows it scored
    promotions = []
    rule = PromotionPolicy()
    for t in range(train_rows, len(features)):
        if t > train_rows and (t - train_rows) % every == 0:
            known = [y if i < t - delay else None for i, y in enumerate(labels[:t])]
            versions.append(train(spec, features[:t], known, rate))
            new = len(versions) - 1
            shadow[new] = []
            if policy == "always":
                champion = new
                promotions.append(new)
            elif policy == "evidence":
                challengers.append(new)
                champion, challengers = _evaluate(rule, champion, challengers, shadow, labels, t - delay,
                                                  promotions)
        for version in (champion, *challengers):
            model, threshold = versions[version]
            score = score_one(model, spec, features[t])
            shadow[version].append((t, score))
            if version == champion:
                served.append((score, labels[t]))
                alerts += score >= threshold
    return {"auc": roc_auc([s for s, _ in served], [y for _, y in served]), "alert_rate": alerts / len(served),
            "versions": len(versions), "promotions": promotions}


def _evaluate(rule: PromotionPolicy, champion: int, challengers: list[int], shadow: dict[int, list[tuple[int, float]]],
              labels: list[bool], labelled_before: int, promotions: list[int]) -> tuple[int, list[int]]:
    champion_scores = dict(shadow[champion])
    shadows = []
    for version in challengers:
        pairs = [(champion_scores[row], score, labels[row]) for row, score in shadow[version]
                 if row < labelled_before and row in champion_scores]
        shadows.append(Shadow(version, [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs]))
    for decision in decide(rule, champion, shadows):
        if decision.action == "promote":
            promotions.append(decision.version)
            challengers = [v for v in challengers if v != decision.version]
            champion = decision.version
        if decision.action == "retire":
            challengers = [v for v in challengers if v != decision.version]
    return champion, challengers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="a creditcard.csv file, or 'synthetic'")
    parser.add_argument("--specs", nargs="+", default=["logreg", "hst", "blend"],
                        help="built-in model names, or package.module:factory")
    parser.add_argument("--policies", nargs="+", default=["evidence", "always", "frozen"])
    parser.add_argument("--with-hours", action="store_true", help="let the specs read the time-of-day features")
    parser.add_argument("--cards", type=int, default=None)
    parser.add_argument("--clock-gap", type=float, default=None,
                        help="put row i at i * GAP seconds, as `fraudlog demo` does (its default: 0.001)")
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--train-rows", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=2_000)
    parser.add_argument("--delay", type=int, default=1_000)
    parser.add_argument("--alert-rate", type=float, default=0.02)
    parser.add_argument("--card-categories", default="",
                        help="comma-separated attribute names: run each spec without and with their card features")
    args = parser.parse_args()
    console = Console()
    csv = None if str(args.csv) == "synthetic" else args.csv
    categories = tuple(n.strip() for n in args.card_categories.split(",") if n.strip())
    features, labels = load(csv, args.rows, args.cards, args.clock_gap, categories)
    table = Table("spec", "policy", "champion ROC AUC", "alert rate", "versions", "promoted", "seconds",
                  title=f"{csv.name if csv else 'synthetic'}: train {args.train_rows:,}, serve "
                        f"{len(features) - args.train_rows:,}, retrain every {args.every:,}, "
                        f"labels {args.delay:,} late")
    for spec_name in args.specs:
        spec = custom_spec(spec_name) if ":" in spec_name else spec_for(spec_name)
        if args.with_hours:
            spec = spec.with_features(exclude=())
        for name, variant, inputs in variants(spec_name, spec, features, categories):
            _run_policies(console, table, args, name, variant, inputs, labels)
    console.print(table)


def _run_policies(console: Console, table: Table, args: argparse.Namespace, name: str, spec: ModelSpec,
                  features: list[dict[str, Any]], labels: list[bool]) -> None:
    for policy in args.policies:
        began = time.perf_counter()
        result = run(spec, policy, features, labels, train_rows=args.train_rows, every=args.every,
                     delay=args.delay, rate=args.alert_rate)
        table.add_row(name, policy, f"{result['auc']:.4f}", f"{result['alert_rate']:.2%}",
                      str(result["versions"]), ", ".join(map(str, result["promotions"])) or "-",
                      f"{time.perf_counter() - began:.0f}")
        console.print(f"{name} {policy}: ROC AUC {result['auc']:.4f}, alert rate {result['alert_rate']:.2%}")


if __name__ == "__main__":
    main()
