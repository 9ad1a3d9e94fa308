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

Four more, so that no detector is chosen on one kind of change (none of them tuned a default):

- `partial`: a new fraud pattern appears beside the old one: after the change half the frauds follow
  another relation (a fall in ROC AUC of 0.13-0.28, depending on the seed).
- `mild`: the weights turn part of the way (`0.8 old + 0.6 other`): a fall of 0.04-0.07, the kind a
  tolerance-based detector never sees.
- `prior`: the fraud rate triples, the relation unchanged: the ranking holds, nothing should act.
- `stationary-weak`: `stationary` with a weaker relation (ROC AUC about 0.85): ranks spread more, which is
  where a detector with a fixed tolerance raises false alarms.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

FEATURES = 8
WEIGHT_NORM = 3.0
KINDS = ("abrupt", "gradual", "covariate", "stationary", "partial", "mild", "prior", "stationary-weak")


@dataclass(frozen=True)
class StreamSpec:
    kind: str
    length: int
    change: int | None  # the index of the first changed transaction (None: stationary)
    ramp: int = 20_000
    day: int = 20_000
    seed: int = 7


def _weights(rng: random.Random, length: float = WEIGHT_NORM) -> list[float]:
    w = [rng.gauss(0.0, 1.0) for _ in range(FEATURES)]
    norm = math.sqrt(sum(v * v for v in w))
    return [length * v / norm for v in w]


def generate(spec: StreamSpec) -> Iterator[tuple[dict[str, float], bool]]:
    """(features, is_fraud) for each transaction in order."""
    rng = random.Random(spec.seed)
    old, new = _weights(rng), _weights(rng)
    bias = -7.4  # with |w| = 3 this gives about 1.5 % fraud
    if spec.kind == "stationary-weak":
        old, bias = _weights(rng, 1.6), -5.0  # about the same fraud rate, ROC AUC about 0.85
    mild = [0.8 * a + 0.6 * b for a, b in zip(old, new, strict=True)]
    for i in range(spec.length):
        x = [rng.gauss(0.0, 1.0) for _ in range(FEATURES)]
        amount_scale = 1.0
        after = spec.change is not None and i >= spec.change
        if spec.kind.startswith("stationary"):
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
        elif spec.kind == "partial" and after:
            weights = new if rng.random() < 0.5 else old
        elif spec.kind == "mild" and after:
            weights = mild
        logit = bias + (1.2 if spec.kind == "prior" and after else 0.0)
        logit += sum(w * v for w, v in zip(weights, x, strict=True))
        is_fraud = rng.random() < 1.0 / (1.0 + math.exp(-logit))
        features = {f"f{j}": x[j] for j in range(FEATURES)}
        features["amount"] = amount_scale * math.exp(rng.gauss(3.0, 1.0))
        yield features, is_fraud
