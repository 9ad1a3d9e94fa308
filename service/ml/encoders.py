"""Turning a transaction's text features into numbers a linear model can weigh.

A feature value is a float or a string (`fraudlog.domain.features`). The built-in `logreg` reads both through
one transformer (`TextAndNumbers`), whose numeric part is exactly the scaler it always had:

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

from collections.abc import Hashable, Mapping
from typing import Any

from river import base, preprocessing

ONE_HOT_DEFAULT = ("attr_mcc", "attr_country", "attr_channel")
# 1,024 buckets: enough that a few thousand merchants collide rarely, small enough for a model of KBs.
HASH_FEATURES_DEFAULT = 1_024
HASH_SEED = 20_261_130


def text_and_numbers(one_hot: tuple[str, ...], hash_features: int) -> TextAndNumbers:
    """The transformer that scales numbers and encodes text (see the module docstring)."""
    return TextAndNumbers(one_hot, hash_features)


class TextAndNumbers(base.Transformer):
    """Numbers through a `StandardScaler`; text named in `one_hot` through River's `OneHotEncoder`; other text
    through River's `FeatureHasher`.

    One transformer rather than a River union of three selecting pipelines: a transaction without text takes
    the scaler alone, so a numbers-only deployment pays (nearly) nothing for text it never sends, and its
    scaled features are the very dict the numbers-only pipeline gives, so scores stay bit-identical.
    """

    def __init__(self, one_hot: tuple[str, ...] = ONE_HOT_DEFAULT, hash_features: int = HASH_FEATURES_DEFAULT,
                 ) -> None:
        self.one_hot = tuple(one_hot)
        self.hash_features = hash_features
        self.scaler = preprocessing.StandardScaler()
        self.one_hot_encoder = preprocessing.OneHotEncoder(drop_zeros=True)
        self.hasher = (preprocessing.FeatureHasher(n_features=hash_features, seed=HASH_SEED)
                       if hash_features > 0 else None)
        self._one_hot_names = frozenset(one_hot)

    def learn_one(self, x: dict[Hashable, Any]) -> None:
        numbers, named, _ = self._split(x)
        self.scaler.learn_one(numbers)
        if named:
            self.one_hot_encoder.learn_one(named)

    def transform_one(self, x: dict[Hashable, Any]) -> dict[Hashable, Any]:
        numbers, named, other = self._split(x)
        out: dict[Hashable, Any] = self.scaler.transform_one(numbers)
        if named:
            out.update(self.one_hot_encoder.transform_one(named))
        if other and self.hasher is not None:
            out.update(self.hasher.transform_one(other))
        return out

    def _split(self, x: dict[Hashable, Any]) -> tuple[dict[Hashable, Any], dict[Hashable, Any], dict[Hashable, Any]]:
        """(numbers, text to one-hot, text to hash); `x` itself when it holds no text."""
        if not any(isinstance(value, str) for value in x.values()):
            return x, {}, {}
        numbers: dict[Hashable, Any] = {}
        named: dict[Hashable, Any] = {}
        other: dict[Hashable, Any] = {}
        for name, value in x.items():
            if not isinstance(value, str):
                numbers[name] = value
            elif name in self._one_hot_names:
                named[name] = value
            else:
                other[name] = value
        return numbers, named, other


def numeric_scaler(first_step: Any) -> Any:
    """The scaler of the numbers: the first step itself, or the scaler inside `TextAndNumbers`."""
    if isinstance(first_step, TextAndNumbers):
        return first_step.scaler
    return first_step


def numbers_only(features: Mapping[str, Any]) -> Mapping[str, Any]:
    """`features` without text, for a model that reads numbers only; the same mapping when it has none."""
    if not any(isinstance(value, str) for value in features.values()):
        return features
    return {name: value for name, value in features.items() if not isinstance(value, str)}
