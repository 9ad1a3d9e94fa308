"""MessagePack against JSON for ingest bodies (issue 30): bytes on the wire and CPU per transaction to decode
and validate (`decode_one_or_many`, what `POST /v1/transactions` runs before the log), at batch sizes 1 and
1,000. In process; the canonical row and the append that follow are the same for both encodings.

    python -m bench.msgpack_ingest [--rounds 5]

Transactions look like the creditcard data set's: 28 numeric attributes (V1..V28), a card and a time.
The two encodings alternate in each round; medians of the rounds are printed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from fraudlog.domain.events import TransactionIn
from fraudlog.domain.validation import BodyFormat, Limits, decode_one_or_many

START = datetime(2026, 11, 28, tzinfo=UTC)
TRANSACTIONS_PER_ROUND = 20_000


def transaction(n: int, rng: random.Random, native_time: bool) -> dict[str, Any]:
    moment = START + timedelta(seconds=n)
    return {"transaction_id": f"tx-{n:08d}", "card_id": f"card-{n % 997}",
            "event_time": moment if native_time else moment.isoformat().replace("+00:00", "Z"),
            "amount": round(rng.uniform(1, 500), 2),
            "attributes": {f"V{i}": rng.gauss(0.0, 1.5) for i in range(1, 29)}}


def bodies(batch: int, body_format: BodyFormat) -> list[bytes]:
    rng = random.Random(30)
    count = TRANSACTIONS_PER_ROUND // batch
    encode: Callable[[Any], bytes] = msgspec.msgpack.encode if body_format == "msgpack" else msgspec.json.encode
    out = []
    for b in range(count):
        items = [transaction(b * batch + i, rng, native_time=body_format == "msgpack") for i in range(batch)]
        out.append(encode(items[0] if batch == 1 else items))
    return out


def cpu_per_transaction(encoded: list[bytes], batch: int, body_format: BodyFormat) -> float:
    limits = Limits()
    started = time.process_time()
    for body in encoded:
        decode_one_or_many(body, TransactionIn, 10_000, limits, body_format)
    return (time.process_time() - started) / (len(encoded) * batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for batch in (1, 1_000):
        encoded = {f: bodies(batch, f) for f in ("json", "msgpack")}
        size = {f: sum(map(len, encoded[f])) / TRANSACTIONS_PER_ROUND for f in encoded}
        cpu: dict[str, list[float]] = {"json": [], "msgpack": []}
        for _ in range(args.rounds):
            for f in ("json", "msgpack"):
                cpu[f].append(cpu_per_transaction(encoded[f], batch, f))  # type: ignore[arg-type]
        median = {f: statistics.median(v) for f, v in cpu.items()}
        results[f"batch {batch}"] = {
            "bytes per transaction": {f: round(v, 1) for f, v in size.items()},
            "bytes msgpack/json": round(size["msgpack"] / size["json"], 3),
            "decode+validate us per transaction": {f: round(v * 1e6, 2) for f, v in median.items()},
            "cpu msgpack/json": round(median["msgpack"] / median["json"], 3)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
