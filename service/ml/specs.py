"""Model specs: a name and hyperparameters that say exactly how to build a River pipeline.

A spec is what lineage records (`model_spec`), so `ModelSpec.from_dict(spec.to_dict())` must give back the
same spec, and the same spec must always build the same untrained model.

Two families, one score each; a higher score always means "more likely fraud":

- `hst`: `MinMaxScaler | HalfSpaceTrees`, unsupervised. The score is the anomaly score in [0, 1]. Labels
  are ignored while learning, so it works from the first event, before any label has arrived.
- `logreg`: `StandardScaler | LogisticRegression`, supervised. The score is the probability of fraud,
  `predict_proba_one(x)[True]`. It learns only from labelled events.

Serving code calls `score_one` only; `learn_one` belongs to training (DESIGN invariant 4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from river import anomaly, compose, linear_model, optim, preprocessing

# River ships no type information; a model is whatever `build_model` returned.
Model = Any
Features = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """How to build a model: its family's name, its hyperparameters (JSON values) and whether it learns
    from labels."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    supervised: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "supervised": self.supervised}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Rebuild a spec from lineage; it is checked against its family like any override."""
        return spec_for(str(data["name"]), **dict(data.get("params", {})))


@dataclass(frozen=True, slots=True)
class _Family:
    defaults: Mapping[str, Any]
    supervised: bool
    build: Callable[[Mapping[str, Any]], Model]
    score: Callable[[Model, Features], float]
    # The scaler's per-feature statistics: the features the model has learned about.
    known: Callable[[Model], Mapping[str, Any]]
    positive: frozenset[str]  # hyperparameters that must be > 0


def _build_hst(params: Mapping[str, Any]) -> Model:
    detector = anomaly.HalfSpaceTrees(
        n_trees=params["n_trees"],
        height=params["height"],
        window_size=params["window_size"],
        seed=params["seed"],
    )
    # HalfSpaceTrees expects every feature in [0, 1]; the scaler learns the ranges as it goes.
    return compose.Pipeline(preprocessing.MinMaxScaler(), detector)


def _build_logreg(params: Mapping[str, Any]) -> Model:
    optimizer = optim.SGD(params["learning_rate"])
    classifier = linear_model.LogisticRegression(optimizer=optimizer, l2=params["l2"])
    return compose.Pipeline(preprocessing.StandardScaler(), classifier)


def _scaler(model: Model) -> Any:
    return next(iter(model.steps.values()))


def _score_anomaly(model: Model, features: Features) -> float:
    return float(model.score_one(features))


def _score_fraud_probability(model: Model, features: Features) -> float:
    return float(model.predict_proba_one(features).get(True, 0.0))


_FAMILIES: Mapping[str, _Family] = {
    "hst": _Family(
        defaults={"n_trees": 10, "height": 8, "window_size": 250, "seed": 42},
        supervised=False,
        build=_build_hst,
        score=_score_anomaly,
        known=lambda model: _scaler(model).min,
        positive=frozenset({"n_trees", "height", "window_size"}),
    ),
    "logreg": _Family(
        defaults={"learning_rate": 0.01, "l2": 0.0},
        supervised=True,
        build=_build_logreg,
        score=_score_fraud_probability,
        known=lambda model: _scaler(model).counts,
        positive=frozenset({"learning_rate"}),
    ),
}


def spec_for(name: str, **overrides: Any) -> ModelSpec:
    """The spec of family `name` with its default hyperparameters, some replaced by `overrides`.

    Raises ValueError for an unknown family, an unknown hyperparameter or a value of the wrong type, so a
    typo on the command line never trains a model other than the one asked for.
    """
    family = _family(name)
    unknown = sorted(set(overrides) - set(family.defaults))
    if unknown:
        accepted = ", ".join(family.defaults)
        raise ValueError(f"model {name!r} has no hyperparameter {', '.join(unknown)}; it takes {accepted}")
    params = dict(family.defaults)
    for key, value in overrides.items():
        params[key] = _checked(name, key, value, family.defaults[key])
        if key in family.positive and params[key] <= 0:
            raise ValueError(f"model {name!r}: {key} must be > 0, got {value!r}")
    return ModelSpec(name=name, params=params, supervised=family.supervised)


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
    family = _family(spec.name)
    known = family.known(model)
    if not features.keys() <= known.keys():
        features = {name: value for name, value in features.items() if name in known}
    return family.score(model, features)


def learn_one(model: Model, spec: ModelSpec, features: Features, label: bool | None) -> None:
    """Teach the model one event. Unsupervised models ignore the label; supervised ones learn only from
    labelled events (an unlabelled event is not evidence of either class)."""
    if not _family(spec.name).supervised:
        model.learn_one(features)
    elif label is not None:
        model.learn_one(features, bool(label))


def _family(name: str) -> _Family:
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(_FAMILIES)}") from None


def _checked(name: str, key: str, value: Any, default: Any) -> Any:
    # An int is a fine float (`learning_rate=1`), but a bool is not an int here, nor a float an int.
    if isinstance(default, float) and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if type(value) is not type(default):
        raise ValueError(f"model {name!r}: {key} must be {type(default).__name__}, got {value!r}")
    return value


# Every family with its default hyperparameters, by name.
SPECS: Mapping[str, ModelSpec] = {name: spec_for(name) for name in _FAMILIES}
