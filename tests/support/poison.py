"""A `--spec` factory whose model raises on one amount: the poison transaction of issue 27, item 3.

Importable by reference from worker processes (their PYTHONPATH is the repository), so its pickled artifact
loads there too. `FIXED` switches the raise off, as a fixed model would: `fraudlog rescore` then scores.
"""

from __future__ import annotations

import os
from typing import Any

POISON_AMOUNT = 4242.42
FACTORY = "tests.support.poison:raising_on_poison"
FIXED = "POISON_MODEL_FIXED"  # read by the test process only: never a setting of the service


class RaisingOnPoison:
    """Scores by amount, and raises on `POISON_AMOUNT` unless the poison is declared fixed."""

    def learn_one(self, x: dict[str, Any]) -> None:
        pass

    def score_one(self, x: dict[str, Any]) -> float:
        amount = float(x.get("amount", 0.0))
        if amount == POISON_AMOUNT and not os.environ.get(FIXED):
            raise ValueError(f"cannot score amount {amount}")
        return amount


def raising_on_poison() -> RaisingOnPoison:
    return RaisingOnPoison()
