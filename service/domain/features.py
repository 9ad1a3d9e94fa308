"""Features of a transaction: a pure function of the log (invariant 3, docs/INVARIANTS.md).

The features of event *e* depend only on *e* and on its **history**: the transaction events of the same
card with a smaller log position whose event time lies in the window `(e.event_time - WINDOW,
e.event_time]`. Positions, not arrival order or event time, decide what came before, so a late event only
affects events appended after it, and replay reproduces every value bit for bit whatever the batching,
worker concurrency or retries were. Events are identified by their position: a history that repeats a
position counts it once.

Feature names are a public contract (they are stored with every prediction). Always present:

- `amount`: the transaction's amount.
- `hour_of_day`: UTC time of day in fractional hours, `seconds since UTC midnight / 3600`, in [0, 24).
- `hour_sin`, `hour_cos`: `sin` and `cos` of `2π · hour_of_day / 24`, the time of day on a circle, so
  that 23:59 is next to 00:00.
- `attr_<name>`: each client attribute as is, its name prefixed with `attr_` (`V1` becomes `attr_V1`) so
  that it can never collide with another feature. A number stays a float, text stays a string
  (`attr_country` is `"FR"`): encoding text is the model's business (`fraudlog.ml.specs`).

Present only when the transaction has a card id, computed over its history (defined above):

- `card_count_1h`: the number of history events with `event_time > e.event_time - 1 hour`.
- `card_count_24h`: the number of history events (the whole 24-hour window).
- `card_amount_sum_24h`: the sum of the history's amounts, exactly rounded (`math.fsum`), saturating at
  the largest finite float; 0.0 without history.
- `card_amount_mean_24h`: `card_amount_sum_24h / card_count_24h`; 0.0 without history.
- `card_amount_ratio_24h`: `amount / max(card_amount_mean_24h, 1.0)`; 1.0 without history. The floor of
  one currency unit keeps it finite and stops a habit of cent-sized payments from making huge ratios.
- `card_seconds_since_last`: seconds from the latest event time in the history to `e.event_time`, in
  [0, 86400); 86400.0, the window's length, without history.

Counts are floats like every other feature value.

Per-card features over categorical attributes (`card_<category>_*`, for the categories the scoring version
names) are defined in `fraudlog.domain.categorical`.

A transaction without a card id has no `card_*` features at all (absent, not zero): it has no entity to
compute them over, and a zero would claim "no recent activity", which is not known. The current event is
never part of its own history, so the card features describe the card *before* this payment.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from fraudlog.domain.card_walk import CardWalk, CardWindow
from fraudlog.domain.categorical import categorical_card_features, category_value
from fraudlog.domain.events import canonical_attribute, parse_time

WINDOW = timedelta(days=1)
SHORT_WINDOW = timedelta(hours=1)
ATTRIBUTE_PREFIX = "attr_"
# Below this mean amount the ratio's denominator is floored: see the module docstring.
RATIO_FLOOR = 1.0

CARD_FEATURES = (
    "card_count_1h",
    "card_count_24h",
    "card_amount_sum_24h",
    "card_amount_mean_24h",
    "card_amount_ratio_24h",
    "card_seconds_since_last",
)
_SECONDS_PER_DAY = 86_400
_WINDOW_SECONDS = WINDOW.total_seconds()


# One transaction's features by name: floats, and text for text attributes (`attr_country`).
FeatureValues = dict[str, float | str]


@dataclass(frozen=True, slots=True)
class TxView:
    """The part of a transaction event that features are computed from."""

    position: int
    transaction_id: str
    card_id: str | None
    event_time: datetime  # aware, UTC
    amount: float
    attributes: dict[str, float | str]

    def __post_init__(self) -> None:
        if self.event_time.tzinfo is UTC:  # as the store reads it: nothing to convert, on the hot path
            return
        if self.event_time.utcoffset() is None:
            raise ValueError(f"event_time of {self.transaction_id!r} must be timezone-aware")
        # Hour-of-day features are defined in UTC, so hold the instant in UTC whatever offset it came with.
        object.__setattr__(self, "event_time", self.event_time.astimezone(UTC))

    @classmethod
    def from_payload(cls, position: int, payload: dict[str, Any]) -> TxView:
        """Build from the stored canonical form (`fraudlog.domain.events.canonical_transaction`)."""
        return cls(
            position=position,
            transaction_id=payload["transaction_id"],
            card_id=payload.get("card_id"),
            event_time=parse_time(payload["event_time"]),
            amount=float(payload["amount"]),
            # Sorted by name: Postgres' JSONB hands keys back in its own order, and a linear model sums its
            # features in dict order, so the order must not depend on the backend for scores to be bit-exact.
            # `canonical_attribute` inlined: a call per value was most of the cost of a view.
            attributes={name: value if isinstance(value, str) else float(value) + 0.0
                        for name, value in sorted(payload.get("attributes", {}).items())},
        )

    @classmethod
    def from_stored(cls, position: int, stored: StoredTransaction) -> TxView:
        """`from_payload` of the same payload, from its typed decoding: numbers are floats already."""
        attributes = stored.attributes
        # Sorted for the reason `from_payload` gives. A zero is the one number whose canonical form can
        # differ (-0.0), and `in` tells in C whether any is present, so the common payload costs no Python
        # call per value.
        attributes = dict(sorted(attributes.items()))
        if 0.0 in attributes.values():
            attributes = {name: value if isinstance(value, str) else canonical_attribute(value)
                          for name, value in attributes.items()}
        return cls(position, stored.transaction_id, stored.card_id, stored.event_time, stored.amount, attributes)


class StoredTransaction(msgspec.Struct, frozen=True):
    """A transaction event's stored payload (`canonical_transaction`), decoded by type.

    Decoding into `float` turns a JSON integer into a float in C: Postgres' JSONB hands 1e23 back as the
    integer 100000000000000000000000, which must read as the float it was written as (see
    `fraudlog.store.predictions.features_as_stored`).
    """

    transaction_id: str
    event_time: datetime
    amount: float
    card_id: str | None = None
    attributes: dict[str, float | str] = {}


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """The one query that fetches the history of a batch: transaction events with
    `card_id IN card_ids AND event_time > since AND position < before_position`."""

    card_ids: frozenset[str]
    since: datetime  # exclusive: the window is open at its start
    before_position: int  # exclusive


def history_query(targets: Iterable[TxView]) -> HistoryQuery | None:
    """What the store must fetch so that `batch_features(targets, fetched)` is complete.

    None when no target has a card, since then no target has a history.
    """
    carded = [tx for tx in targets if tx.card_id is not None]
    if not carded:
        return None
    return HistoryQuery(
        card_ids=frozenset(tx.card_id for tx in carded if tx.card_id is not None),
        since=min(tx.event_time for tx in carded) - WINDOW,
        before_position=max(tx.position for tx in carded),
    )


def compute_features(tx: TxView, history: Iterable[TxView], categories: Sequence[str] = ()) -> FeatureValues:
    """The features of `tx`. `history` may hold anything; only `tx`'s own history is used. `categories`: the
    attribute names whose per-card features to add (`fraudlog.domain.categorical`).

    This is the definition, written as plainly as it reads: `batch_features` must agree with it bit for bit.
    """
    if tx.card_id is None:
        return _own_features(tx)
    window = {
        past.position: past
        for past in history
        if past.card_id == tx.card_id and past.position < tx.position and _in_window(tx, past)
    }
    past = list(window.values())
    return {**_own_features(tx), **_card_features(tx, _summarise(tx, past)),
            **categorical_card_features(tx, past, categories)}


def batch_features(targets: Sequence[TxView], candidates: Iterable[TxView], categories: Sequence[str] = (),
                   ) -> dict[int, FeatureValues]:
    """`compute_features` for every target, keyed by position, with the history fetched once.

    The targets are log events too, so each also counts as history of the later targets in the batch
    even when `candidates` omits it. Each card's events are walked once in position order (`CardWalk`), so
    a batch costs O(n + targets · log n) in its card's n events, numeric and categorical features alike, not
    the O(n²) of summing every target's window afresh (docs/features.md).
    """
    walks = _walks_by_card(targets, candidates, categories)
    result: dict[int, FeatureValues] = {}
    for tx in sorted(targets, key=lambda t: t.position):
        if tx.card_id is None:
            result[tx.position] = _own_features(tx)
            continue
        walk = walks[tx.card_id]
        features = {**_own_features(tx), **_card_features(tx, walk.window_before(tx))}
        if any(category_value(tx, category) is not None for category in categories):
            features |= walk.category_features(tx)
        result[tx.position] = features
    return result


def _walks_by_card(targets: Sequence[TxView], candidates: Iterable[TxView], categories: Sequence[str],
                   ) -> dict[str, CardWalk]:
    cards = {tx.card_id for tx in targets if tx.card_id is not None}
    grouped: dict[str, dict[int, TxView]] = defaultdict(dict)
    for event in (*candidates, *targets):
        if event.card_id is not None and event.card_id in cards:
            grouped[event.card_id].setdefault(event.position, event)
    return {card: CardWalk(grouped[card].values(), window=WINDOW, short_window=SHORT_WINDOW, categories=categories)
            for card in cards}


def _in_window(tx: TxView, past: TxView) -> bool:
    return tx.event_time - WINDOW < past.event_time <= tx.event_time


def _own_features(tx: TxView) -> FeatureValues:
    midnight = tx.event_time.replace(hour=0, minute=0, second=0, microsecond=0)
    # Integer microseconds, then one division: the same float whatever the arithmetic path.
    micros = (tx.event_time - midnight) // timedelta(microseconds=1)
    angle = math.tau * micros / (_SECONDS_PER_DAY * 1_000_000)
    features: FeatureValues = {
        "amount": tx.amount,
        "hour_of_day": micros / 3_600_000_000,
        "hour_sin": math.sin(angle),
        "hour_cos": math.cos(angle),
    }
    for name, value in tx.attributes.items():
        features[ATTRIBUTE_PREFIX + name] = value
    return features


def _saturating_sum(amounts: list[float]) -> float:
    # The contract bounds amounts only by finiteness; a sum past the largest float must not turn one
    # absurd payment into an event that can never be scored, nor put inf into stored features.
    try:
        return math.fsum(amounts)
    except OverflowError:
        return sys.float_info.max


def _summarise(tx: TxView, window: Sequence[TxView]) -> CardWindow:
    """The plain summary of `tx`'s history, given as a list: the reference that `CardWalk` must match."""
    hour_ago = tx.event_time - SHORT_WINDOW
    return CardWindow(
        count_24h=len(window),
        count_1h=sum(1 for e in window if e.event_time > hour_ago),
        amount_sum=_saturating_sum([e.amount for e in window]),
        latest=max((e.event_time for e in window), default=None),
    )


def _card_features(tx: TxView, window: CardWindow) -> dict[str, float]:
    """Card features from the summary of `tx`'s history; every one is independent of the history's order."""
    if window.latest is None:
        return {
            "card_count_1h": 0.0,
            "card_count_24h": 0.0,
            "card_amount_sum_24h": 0.0,
            "card_amount_mean_24h": 0.0,
            "card_amount_ratio_24h": 1.0,
            "card_seconds_since_last": _WINDOW_SECONDS,
        }
    mean = window.amount_sum / window.count_24h
    return {
        "card_count_1h": float(window.count_1h),
        "card_count_24h": float(window.count_24h),
        "card_amount_sum_24h": window.amount_sum,
        "card_amount_mean_24h": mean,
        "card_amount_ratio_24h": tx.amount / max(mean, RATIO_FLOOR),
        "card_seconds_since_last": (tx.event_time - window.latest) / timedelta(seconds=1),
    }
