"""Where a label came from, and the one rule that decides a transaction's effective label. Pure.

Every label carries its `source`: `chargeback` (the card network's verdict, 30-120 days later),
`analyst` (a person who reviewed the case), `customer` (the card holder answering an alert), `api` (a
client's bare `POST /v1/labels`; every label stored before sources existed reads as one) or `import` (a
file of labels loaded in bulk). Sources disagree: a customer says "it was me" and a chargeback comes a
month later. The effective label of a transaction is the label of the highest-ranked source among the
labels known (at the log position asked about); among labels of the same rank, the one known last (the
highest log position) wins, which is how a client corrects its own label.

    chargeback > analyst > customer > api = import

The rule is a function of the labels known at a position and nothing else (no clock), so training at a
cut reads the same effective labels however many outcomes or chargebacks arrive after it.
"""

from __future__ import annotations

from typing import Literal

LabelSource = Literal["customer", "analyst", "chargeback", "import", "api"]
LABEL_SOURCES: tuple[LabelSource, ...] = ("customer", "analyst", "chargeback", "import", "api")
DEFAULT_SOURCE: LabelSource = "api"  # a label without a source: every label stored before sources existed

RANK: dict[str, int] = {"chargeback": 3, "analyst": 2, "customer": 1, "api": 0, "import": 0}


def source_of(stored: str | None) -> str:
    """The source a stored label names; a label stored without one (older logs) is an `api` label."""
    return stored or DEFAULT_SOURCE


def effective_key(source: str | None, position: int) -> tuple[int, int]:
    """The order of precedence: the effective label is the label with the largest key (rank, then position)."""
    return RANK[source_of(source)], position
