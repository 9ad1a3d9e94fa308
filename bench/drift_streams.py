"""Generated transaction streams with known change points, for `bench/drift.py`.

Every stream draws eight standard-normal features and an amount, and a fraud label from a logistic
relation `P(fraud | x) = sigmoid(b + w . x)` (about 1.5 % fraud). What changes, and when, is the point of
each stream; the change is in the relation between features and fraud (concept), or in the features alone
(covariate), never in anything a detector was built around:

- `abrupt`: at the change point the weights become another random vector of the same length: the same
  fraud rate and a concept as learnable as before, but the old model ranks it poorly.
- `gradual`: the new weights take over linearly over `ramp` transactions.
- `covariate`: three features move (mean + 1, spread x 1.5); the relation is unchanged, so a model that
  learned it still ranks well: a detector on performance should stay quiet, label-free ones may not.
- `stationary`: nothing changes, but a daily cycle (one "day" is `day` transactions) moves one feature's
  mean and the amounts, and with them the fraud rate: no detector should fire.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

FEATURES = 8
WEIGHT_NORM = 3.0
KINDS = ("abrupt", "gradual", "covariate", "stationary")


@dataclass(frozen=True)
class StreamSpec:
    kind: str
    length: int
    change: int | None  # the index of the first changed transaction (None: stationary)
    ramp: int = 20_000
    day: int = 20_000
    seed: int = 7


def _weights(rng: random.Random) -> list[float]:
    w = [rng.gauss(0.0, 1.0) for _ in range(FEATURES)]
    norm = math.sqrt(sum(v * v for v in w))
    return [WEIGHT_NORM * v / norm for v in w]


def generate(spec: StreamSpec) -> Iterator[tuple[dict[str, float], bool]]:
    """(features, is_fraud) for each transaction in order."""
    rng = random.Random(spec.seed)
    old, new = _weights(rng), _weights(rng)
    bias = -7.4  # with |w| = 3 this gives about 1.5 % fraud
    for i in range(spec.length):
        x = [rng.gauss(0.0, 1.0) for _ in range(FEATURES)]
        amount_scale = 1.0
        after = spec.change is not None and i >= spec.change
        if spec.kind == "stationary":
            phase = math.sin(2 * math.pi * i / spec.day)
            x[3] += phase
            amount_scale = 1.0 + 0.5 * phase
        if spec.kind == "covariate" and after:
            for j in (0, 1, 2):
                x[j] = 1.0 + 1.5 * x[j]
        weights = old
        if spec.kind == "abrupt" and after:
            weights = new
        elif spec.kind == "gradual" and after:
            share = min(1.0, (i - (spec.change or 0)) / spec.ramp)
            weights = new if rng.random() < share else old
        logit = bias + sum(w * v for w, v in zip(weights, x, strict=True))
        is_fraud = rng.random() < 1.0 / (1.0 + math.exp(-logit))
        features = {f"f{j}": x[j] for j in range(FEATURES)}
        features["amount"] = amount_scale * math.exp(rng.gauss(3.0, 1.0))
        yield features, is_fraud
