"""Model specs: a family, its hyperparameters, how it trains and which features it reads.

A spec is what lineage records (`model_spec`), so `ModelSpec.from_dict(spec.to_dict())` must give back the
same spec, and the same spec trained on the same data must always give the same model.

Families, one score each; a higher score always means "more likely fraud":

- `logreg`: `StandardScaler | LogisticRegression`, supervised. The score is the probability of fraud,
  `predict_proba_one(x)[True]`. It learns the labelled transactions of its training window, `passes` times
  in log order. Text features (`attr_country = "FR"`) are encoded beside the scaled numbers: the names in
  `one_hot` (low-cardinality fields: merchant category, country, channel) by River's `OneHotEncoder`, every
  other text (merchant and device ids, unbounded) by River's `FeatureHasher` into `hash_features` signed
  buckets with a fixed seed. Both encoders are label-free, so nothing about the target leaks into them; what
  a value means for fraud is the weight the model learns for its column from the training window's labels
  only, frozen in the artifact like every other weight. `hash_features = 0` with no `one_hot` names is the
  numbers-only pipeline of versions written before text attributes existed (their lineage has no
  `categories`, and `ModelSpec.from_dict` rebuilds them so, which keeps `fraudlog models verify` exact).
- `hst`: `MinMaxScaler | HalfSpaceTrees`, unsupervised. The score is the anomaly score in [0, 1]. It
  learns every transaction of its (shorter) window, labelled or not, once. It reads numbers only: text
  features are dropped before it sees them (half-space trees split numeric ranges).
- `blend`: the rank average of a `logreg` and an `hst` (`fraudlog.ml.blend`): each member's score becomes
  its percentile among the member's own scores of recent traffic, and the blend is their mean.
- `custom`: any River pipeline a user's factory builds (`--spec package.module:factory`); lineage records
  the factory's import path and the SHA-256 of its module's source (`fraudlog.ml.custom`).

**Features per spec.** A spec declares the features it reads (`include` and `exclude`, names or shell-style
patterns such as `attr_*`); every other feature is dropped before the model sees it. The built-in specs
leave out the time-of-day features (`hour_of_day`, `hour_sin`, `hour_cos`): a model trained on less than
a few weeks of history has seen each hour on a handful of days only and extrapolates badly on the rest
(measured in docs/lifecycle.md, "Model quality"). Stored predictions keep every computed feature, so a later spec
can use what an earlier one ignored.

Serving code calls `score_one` only; learning belongs to training (invariant 4, docs/INVARIANTS.md).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from river import anomaly, compose, linear_model, optim, preprocessing

from fraudlog.domain.categorical import without_categories
from fraudlog.domain.features import FeatureValues
from fraudlog.ml.blend import RankBlend
from fraudlog.ml.custom import build_from_factory, is_classifier, normalised, source_sha256
from fraudlog.ml.encoders import (
    HASH_FEATURES_DEFAULT,
    ONE_HOT_DEFAULT,
    numbers_only,
    numeric_scaler,
    text_and_numbers,
)

# River ships no type information; a model is whatever `build_model` returned.
Model = Any
Features = Mapping[str, Any]

HOUR_FEATURES = ("hour_of_day", "hour_sin", "hour_cos")


@dataclass(frozen=True, slots=True)
class FeatureSelection:
    """Which features a model reads: those matching an `include` pattern and no `exclude` pattern."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        return {"include": list(self.include), "exclude": list(self.exclude)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FeatureSelection:
        # Versions written before specs declared features read every feature: keep it so for them.
        if not data:
            return cls()
        return cls(tuple(str(p) for p in data.get("include", ("*",))), tuple(str(p) for p in data.get("exclude", ())))

    def select(self, features: Features) -> Features:
        """The features this selection keeps, in their original order (a linear model sums in dict order)."""
        kept = _kept_names(self.include, self.exclude, tuple(features))
        if kept is None:
            return features
        return {name: features[name] for name in kept}

    def dropped(self, names: tuple[str, ...]) -> frozenset[str]:
        """The names among `names` this selection leaves out (cached like `select`)."""
        return _dropped_names(self.include, self.exclude, names)


@lru_cache(maxsize=4096)
def _kept_names(include: tuple[str, ...], exclude: tuple[str, ...], names: tuple[str, ...]) -> tuple[str, ...] | None:
    """The names kept, or None when all are (the common case, which then costs no copy).

    Cached by the tuple of names: a deployment's transactions come in a handful of shapes.
    """
    kept = tuple(n for n in names if any(fnmatch.fnmatchcase(n, p) for p in include)
                 and not any(fnmatch.fnmatchcase(n, p) for p in exclude))
    return None if kept == names else kept


@lru_cache(maxsize=4096)
def _dropped_names(include: tuple[str, ...], exclude: tuple[str, ...], names: tuple[str, ...]) -> frozenset[str]:
    kept = _kept_names(include, exclude, names)
    return frozenset() if kept is None else frozenset(names).difference(kept)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """How to build and train a model: its family, hyperparameters (JSON values) and features."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    features: FeatureSelection = field(default_factory=FeatureSelection)
    # The attributes whose per-card categorical features this version's features hold
    # (`fraudlog.domain.categorical`). Recorded in lineage, so the features a version was served with can be
    # computed again under any later setting; versions written before categories existed have none.
    categories: tuple[str, ...] = ()

    @property
    def supervised(self) -> bool:
        """Whether training needs labels (a spec that learns from none can start before any arrive)."""
        return _family(self.name).supervised(self.params)

    def build_model(self) -> Model:
        """A fresh, untrained model (`build_model`): what a blend calls on its members' specs."""
        return build_model(self)

    def score_one(self, model: Model, features: Features) -> float:
        """The model's fraud score for one event (`score_one`)."""
        return score_one(model, self, features)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "supervised": self.supervised,
                "features": self.features.to_dict(), "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Rebuild a spec from lineage; it is checked against its family like any override."""
        params = dict(data.get("params", {}))
        if "categories" not in data:
            params = _numbers_only_params(str(data["name"]), params)
        spec = spec_for(str(data["name"]), **params)
        return ModelSpec(spec.name, spec.params, FeatureSelection.from_dict(data.get("features")),
                         tuple(str(name) for name in data.get("categories", ())))

    def with_features(self, include: tuple[str, ...] | None = None, exclude: tuple[str, ...] | None = None,
                      ) -> ModelSpec:
        current = self.features
        return ModelSpec(self.name, self.params, FeatureSelection(
            current.include if include is None else include, current.exclude if exclude is None else exclude),
            self.categories)

    def with_categories(self, categories: Sequence[str]) -> ModelSpec:
        return ModelSpec(self.name, self.params, self.features, tuple(categories))

    def own_features(self, features: FeatureValues, computed: Sequence[str]) -> FeatureValues:
        """`features`, computed with the categories `computed` (a superset of this spec's), as this version
        alone would have had them: without the other categories' features."""
        extra = [name for name in computed if name not in self.categories]
        return without_categories(features, extra) if extra else features


def union_categories(specs: Iterable[ModelSpec]) -> tuple[str, ...]:
    """Every category some of `specs` reads, in a fixed order: what to compute features with once for all."""
    return tuple(sorted({name for spec in specs for name in spec.categories}))


@dataclass(frozen=True, slots=True)
class _Family:
    defaults: Mapping[str, Any]
    supervised: Callable[[Mapping[str, Any]], bool]
    build: Callable[[Mapping[str, Any]], Model]
    score: Callable[[Model, Features], float]
    # The features a trained model knows (its scaler's statistics), or None when that cannot be told.
    known: Callable[[Model], Any]
    positive: frozenset[str]  # hyperparameters that must be > 0
    # Whether the model takes text features; when not, they are dropped before it sees them.
    takes_text: Callable[[Mapping[str, Any]], bool]


def _build_hst(params: Mapping[str, Any]) -> Model:
    detector = anomaly.HalfSpaceTrees(n_trees=params["n_trees"], height=params["height"],
                                      window_size=params["window_size"], seed=params["seed"])
    # HalfSpaceTrees expects every feature in [0, 1]; the scaler learns the ranges as it goes.
    return compose.Pipeline(preprocessing.MinMaxScaler(), detector)


def _build_logreg(params: Mapping[str, Any]) -> Model:
    classifier = linear_model.LogisticRegression(optimizer=optim.SGD(params["learning_rate"]), l2=params["l2"])
    if not _logreg_takes_text(params):
        return compose.Pipeline(preprocessing.StandardScaler(), classifier)
    return compose.Pipeline(text_and_numbers(tuple(params["one_hot"]), params["hash_features"]), classifier)


def _logreg_takes_text(params: Mapping[str, Any]) -> bool:
    return bool(params["one_hot"]) or params["hash_features"] > 0


def _build_blend(params: Mapping[str, Any]) -> Model:
    return RankBlend({"logreg": spec_for("logreg", **params["logreg"]), "hst": spec_for("hst", **params["hst"])})


def _build_custom(params: Mapping[str, Any]) -> Model:
    return build_from_factory(params["factory"], params["source_sha256"])


def _scaler(model: Model) -> Any:
    return numeric_scaler(next(iter(model.steps.values())))


def _score_anomaly(model: Model, features: Features) -> float:
    return float(model.score_one(features))


def _score_fraud_probability(model: Model, features: Features) -> float:
    return float(model.predict_proba_one(features).get(True, 0.0))


def _score_custom(model: Model, features: Features) -> float:
    if hasattr(model, "predict_proba_one"):
        return _score_fraud_probability(model, features)
    return _score_anomaly(model, features)


def _score_blend(model: Model, features: Features) -> float:
    return float(model.score_one(features))


_TRAINING = {"passes": 1, "window": 100_000}

_HST_DEFAULTS = {"n_trees": 25, "height": 10, "window_size": 1_000, "seed": 42, "passes": 1, "window": 20_000}
_LOGREG_DEFAULTS = {"learning_rate": 0.01, "l2": 0.001, "passes": 3, "window": 100_000,
                    "one_hot": list(ONE_HOT_DEFAULT), "hash_features": HASH_FEATURES_DEFAULT}
# What versions written before text attributes existed were built with (see `ModelSpec.from_dict`).
_NUMBERS_ONLY_LOGREG = {"one_hot": [], "hash_features": 0}

_FAMILIES: Mapping[str, _Family] = {
    "logreg": _Family(
        defaults=_LOGREG_DEFAULTS, supervised=lambda _: True, build=_build_logreg,
        score=_score_fraud_probability, known=lambda model: _scaler(model).counts,
        positive=frozenset({"learning_rate", "passes", "window"}), takes_text=_logreg_takes_text,
    ),
    "hst": _Family(
        defaults=_HST_DEFAULTS, supervised=lambda _: False, build=_build_hst, score=_score_anomaly,
        known=lambda model: _scaler(model).min,
        positive=frozenset({"n_trees", "height", "window_size", "passes", "window"}), takes_text=lambda _: False,
    ),
    "blend": _Family(
        defaults={"logreg": _LOGREG_DEFAULTS, "hst": _HST_DEFAULTS, "reference_size": 10_000},
        supervised=lambda _: True, build=_build_blend, score=_score_blend, known=lambda model: None,
        positive=frozenset({"reference_size"}), takes_text=lambda _: True,  # each member decides for itself
    ),
    "custom": _Family(
        defaults={"factory": "", "source_sha256": "", "supervised": True, **_TRAINING},
        supervised=lambda params: bool(params["supervised"]), build=_build_custom, score=_score_custom,
        known=lambda model: None, positive=frozenset({"passes", "window"}),
        takes_text=lambda _: True,  # a user's own pipeline gets the raw values
    ),
}

# The families a user may name with `--model`; `custom` comes from `--spec`.
BUILT_IN = ("logreg", "hst", "blend")
DEFAULT_MODEL = "logreg"


def spec_for(name: str, **overrides: Any) -> ModelSpec:
    """The spec of family `name` with its default hyperparameters, some replaced by `overrides`, reading
    every feature but the time-of-day ones.

    Raises ValueError for an unknown family, an unknown hyperparameter or a value of the wrong type, so a
    typo on the command line never trains a model other than the one asked for.
    """
    family = _family(name)
    unknown = sorted(set(overrides) - set(family.defaults))
    if unknown:
        accepted = ", ".join(family.defaults)
        raise ValueError(f"model {name!r} has no hyperparameter {', '.join(unknown)}; it takes {accepted}")
    params: dict[str, Any] = {key: dict(value) if isinstance(value, Mapping) else value
                              for key, value in family.defaults.items()}
    for key, value in overrides.items():
        params[key] = _checked(name, key, value, family.defaults[key])
        if key in family.positive and not params[key] > 0:
            raise ValueError(f"model {name!r}: {key} must be > 0, got {value!r}")
    return ModelSpec(name=name, params=params, features=FeatureSelection(exclude=HOUR_FEATURES))


def build_model(spec: ModelSpec) -> Model:
    """A fresh, untrained model for `spec`."""
    return _family(spec.name).build(spec.params)


def score_one(model: Model, spec: ModelSpec, features: Features) -> float:
    """The model's fraud score for one event; higher means more suspicious. Never changes the model.

    River's scalers add an empty entry to their statistics when they transform a feature they have never
    learned (a new attribute, a card feature a card-less model never saw). That would make serving write
    to a shared, frozen model. Such a feature cannot move the score (it scales to a constant that no
    weight or tree split uses), so it is left out, and the score is the same as River's own.
    """
    return _family(spec.name).score(model, model_input(model, spec, features))


def model_input(model: Model, spec: ModelSpec, features: Features) -> Features:
    """The features `score_one` hands the model: this spec's, without text for a numbers-only family, and
    without numbers its scaler never learned (see `score_one`)."""
    family = _family(spec.name)
    dropped = spec.features.dropped(tuple(features))
    text = family.takes_text(spec.params)
    known = family.known(model)
    # One pass instead of a copy per rule (`select`, `numbers_only`, then unknown numbers): the same names in the
    # same order. Text is encoded without state (see `fraudlog.ml.encoders`), so only unknown numbers are left out.
    if known is None:
        kept = {name: value for name, value in features.items()
                if name not in dropped and (text or not isinstance(value, str))}
    else:
        kept = {name: value for name, value in features.items()
                if name not in dropped and (text if isinstance(value, str) else name in known)}
    return kept


def learn_one(model: Model, spec: ModelSpec, features: Features, label: bool | None) -> None:
    """Teach the model one event. Unsupervised models ignore the label; supervised ones learn only from
    labelled events (an unlabelled event is not evidence of either class)."""
    features = spec.features.select(features)
    if not _family(spec.name).takes_text(spec.params):
        features = numbers_only(features)
    if not spec.supervised:
        model.learn_one(features)
    elif label is not None:
        model.learn_one(features, bool(label))


def _family(name: str) -> _Family:
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(_FAMILIES)}") from None


def _numbers_only_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The params of a lineage written before text attributes existed, with the text encoders it had: none."""
    if name == "logreg":
        return {**_NUMBERS_ONLY_LOGREG, **params}
    if name == "blend":
        return {**params, "logreg": {**_NUMBERS_ONLY_LOGREG, **params.get("logreg", {})}}
    return params


def _checked(name: str, key: str, value: Any, default: Any) -> Any:
    # An int is a fine float (`learning_rate=1`), but a bool is not an int here, nor a float an int.
    if isinstance(default, float) and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(default, Mapping) and isinstance(value, Mapping):
        return {**default, **value}
    if type(value) is not type(default):
        raise ValueError(f"model {name!r}: {key} must be {type(default).__name__}, got {value!r}")
    return value


# Every built-in family with its default hyperparameters, by name.
SPECS: Mapping[str, ModelSpec] = {name: spec_for(name) for name in BUILT_IN}


def custom_spec(path: str) -> ModelSpec:
    """The spec for a user's factory (`fraudlog.ml.custom`): its path, its source's SHA-256, and whether it
    learns from labels."""
    path = normalised(path)
    digest = source_sha256(path)
    model = build_from_factory(path, digest)
    return spec_for("custom", factory=path, source_sha256=digest, supervised=is_classifier(model))
