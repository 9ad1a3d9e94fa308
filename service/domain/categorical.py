"""Per-card features over categorical attributes: novelty and variety of a card's countries, merchants, devices.

Pure, like `fraudlog.domain.features`, and under the same rules (invariant 3, docs/INVARIANTS.md): the window
of event *e* is its card's transactions at smaller positions with event time in `(e.event_time - 24 h,
e.event_time]`, so replay reproduces each value bit for bit whatever the batching.

A **category** is an attribute name (`country`, `merchant_id`, ...) chosen by configuration; its value in a
transaction is the attribute's text. A number under that name is not a category value (it is counted
nowhere), so a client sending numbers only gets exactly the features it got before categories existed.

For each category `c` for which `e` has a text value `v` (and `e` has a card), four features, all floats:

- `card_<c>_new_24h`: 1.0 when no transaction in the window had `c == v`, else 0.0 ("a first purchase in a
  new country").
- `card_<c>_same_24h`: how many transactions in the window had `c == v`.
- `card_<c>_distinct_24h`: how many distinct values of `c` the window's transactions had.
- `card_<c>_distinct_1h`: the same over the window's last hour (`event_time > e.event_time - 1 h`)
  ("three merchants in ten minutes").

Like every card feature they describe the card *before* this payment. A transaction without a text value
for `c` has none of `c`'s features (absent, not zero: there is nothing to compare).

Which categories a prediction's features used is recorded with the model version (`ModelSpec.categories`,
in its lineage), never read from the environment at scoring or replay time: that is what lets a replay years
later, under another setting, reproduce the stored features.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol

SHORT_WINDOW = timedelta(hours=1)
SUFFIXES = ("new_24h", "same_24h", "distinct_24h", "distinct_1h")


class HasCategoryValues(Protocol):
    @property
    def event_time(self) -> datetime: ...

    @property
    def attributes(self) -> Mapping[str, float | str]: ...


@cache
def feature_names(category: str) -> tuple[str, ...]:
    """The four feature names of one category, in the order they are computed."""
    return tuple(f"card_{category}_{suffix}" for suffix in SUFFIXES)


def category_value(tx: HasCategoryValues, category: str) -> str | None:
    value = tx.attributes.get(category)
    return value if isinstance(value, str) else None


def categorical_card_features(tx: HasCategoryValues, window: Sequence[HasCategoryValues],
                              categories: Iterable[str]) -> dict[str, float]:
    """The categorical card features of `tx` over its history `window` (already the card's window).

    Order-independent: sets and counts only, so the order of `window` never changes a value."""
    features: dict[str, float] = {}
    hour_ago = tx.event_time - SHORT_WINDOW
    for category in categories:
        value = category_value(tx, category)
        if value is None:
            continue
        seen = [category_value(past, category) for past in window]
        recent = {v for past, v in zip(window, seen, strict=True) if v is not None and past.event_time > hour_ago}
        same = float(sum(1 for v in seen if v == value))
        new, same_name, distinct, distinct_1h = feature_names(category)
        features[new] = 1.0 if same == 0.0 else 0.0
        features[same_name] = same
        features[distinct] = float(len({v for v in seen if v is not None}))
        features[distinct_1h] = float(len(recent))
    return features


def without_categories(features: dict[str, float | str], drop: Iterable[str]) -> dict[str, float | str]:
    """`features` less the categorical features of the categories in `drop`.

    Features are computed once per transaction for every category any scoring version reads; each version
    then keeps only its own categories' features, which are exactly the ones it would have got alone (each
    category's block depends on that category only)."""
    names = {name for category in drop for name in feature_names(category)}
    return {name: value for name, value in features.items() if name not in names}
