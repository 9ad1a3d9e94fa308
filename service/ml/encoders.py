"""Turning a transaction's text features into numbers a linear model can weigh.

A feature value is a float or a string (`service.domain.features`). The built-in `logreg` reads both through
one River transformer union, so the numeric branch is exactly the pipeline it always had:

- numbers: `StandardScaler`, as before;
- low-cardinality text (merchant category, country, channel: named in the spec): River's `OneHotEncoder`,
  one column per value seen in training (`attr_country_FR`), zeros dropped;
- any other text (merchant and device ids, too many values to give each a column): River's `FeatureHasher`,
  signed buckets from MurmurHash3 with a fixed seed, so the columns are the same in every process and every
  run (Python's own `hash` is salted per process and would break reproducible training, invariant 8).

None of the three looks at a label, and none changes when it transforms: serving can hand them values never
seen in training without writing to a frozen model (invariant 4).
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping
from typing import Any

from river import base, compose, preprocessing

ONE_HOT_DEFAULT = ("attr_mcc", "attr_country", "attr_channel")
# 1,024 buckets: enough that a few thousand merchants collide rarely, small enough for a model of KBs.
HASH_FEATURES_DEFAULT = 1_024
HASH_SEED = 20_261_130


def text_and_numbers(one_hot: tuple[str, ...], hash_features: int) -> Any:
    """The union that scales numbers and encodes text (see the module docstring)."""
    numeric = compose.Pipeline(compose.SelectType(numbers.Number), preprocessing.StandardScaler())
    branches = [numeric]
    if one_hot:
        branches.append(compose.Pipeline(TextNamed(one_hot, keep=True), preprocessing.OneHotEncoder(drop_zeros=True)))
    if hash_features > 0:
        branches.append(compose.Pipeline(TextNamed(one_hot, keep=False),
                                         preprocessing.FeatureHasher(n_features=hash_features, seed=HASH_SEED)))
    return compose.TransformerUnion(*branches)


class TextNamed(base.Transformer):
    """The text features whose name is (`keep`) or is not (not `keep`) in `names`; River's `Select` insists
    that every name be present, and a transaction may lack any attribute."""

    def __init__(self, names: tuple[str, ...], keep: bool) -> None:
        self.names = names
        self.keep = keep
        self._names = frozenset(names)

    def transform_one(self, x: dict[Hashable, Any]) -> dict[Hashable, Any]:
        return {name: value for name, value in x.items()
                if isinstance(value, str) and (name in self._names) == self.keep}


def numeric_scaler(first_step: Any) -> Any:
    """The scaler of the numbers: the first step itself, or the last step of a union's numeric branch."""
    if isinstance(first_step, compose.TransformerUnion):
        numeric = next(iter(first_step.transformers.values()))
        return list(numeric.steps.values())[-1]
    return first_step


def numbers_only(features: Mapping[str, Any]) -> Mapping[str, Any]:
    """`features` without text, for a model that reads numbers only; the same mapping when it has none."""
    if not any(isinstance(value, str) for value in features.values()):
        return features
    return {name: value for name, value in features.items() if not isinstance(value, str)}
