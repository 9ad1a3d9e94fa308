"""Request bodies for load: real rows of the credit-card sample (V1..V28 and Amount), pre-encoded.

A request costs the load client one concatenation, so the client stays a small, measured fraction of a
core. Transaction ids are given per request, so every body is new to the log and answered "accepted".
"""

from __future__ import annotations

import csv
import gzip
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from bench.load.results import REPO
from fraudlog.domain.events import NewEvent
from tests.support.data import transaction_event_from_body

SAMPLE_CSV = REPO.parent / "shared" / "data" / "creditcard_sample.csv.gz"
BASE_TIME = datetime(2026, 11, 28, tzinfo=UTC)


class Corpus:
    """Transaction bodies minus their id, pre-encoded."""

    def __init__(self, rows: list[dict[str, Any]], source: str) -> None:
        self.source = source
        # b'"card_id":...,"attributes":{...}}': a body is b'{"transaction_id":"<id>",' + tail.
        self.tails = [msgspec.json.encode(row)[1:] for row in rows]

    def __len__(self) -> int:
        return len(self.tails)

    def body(self, tx_id: str, index: int) -> bytes:
        return b'{"transaction_id":"' + tx_id.encode() + b'",' + self.tails[index % len(self.tails)]

    def batch(self, ids: list[str], first_index: int) -> bytes:
        return b"[" + b",".join(self.body(tx, first_index + i) for i, tx in enumerate(ids)) + b"]"

    def new_event(self, tx_id: str, index: int) -> NewEvent:
        """The event the API would append for this body: the same canonical payload and digest."""
        return transaction_event_from_body(msgspec.json.decode(self.body(tx_id, index)))


def load_corpus(limit: int = 30_000) -> Corpus:
    """Up to `limit` rows of the sample, or synthetic rows of the same shape when it is not beside the repo."""
    rng = random.Random(42)
    rows: list[dict[str, Any]] = []
    if SAMPLE_CSV.exists():
        with gzip.open(SAMPLE_CSV, "rt", newline="") as handle:
            for record in csv.DictReader(handle):
                rows.append(_row(rng, float(record["Time"]), float(record["Amount"]),
                                 {f"V{i}": float(record[f"V{i}"]) for i in range(1, 29)}))
                if len(rows) >= limit:
                    break
        return Corpus(rows, f"{SAMPLE_CSV.name} ({len(rows)} rows)")
    for n in range(5_000):
        rows.append(_row(rng, float(n), round(rng.lognormvariate(3, 1.5), 2),
                         {f"V{i}": rng.gauss(0, 1.5) for i in range(1, 29)}))
    return Corpus(rows, "synthetic (credit-card shape)")


def _row(rng: random.Random, seconds: float, amount: float, attributes: dict[str, float]) -> dict[str, Any]:
    when = BASE_TIME + timedelta(seconds=seconds, microseconds=rng.randrange(1_000_000))
    return {"card_id": f"card-{rng.randrange(10_000)}",
            "event_time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "amount": amount, "attributes": attributes}
