"""Reason codes: which features pushed one prediction's score up or down, by how much, against what.

Two methods, chosen by what the model allows (`EXPLANATION_METHODS` is what lineage and docs name):

- `logreg-exact` for the built-in logistic regression. Its logit is `intercept + Σ w_c · z_c` over the
  encoded columns `z` (scaled numbers, one-hot and hashed text). A number's contribution is
  `w_f · (z_f - z(baseline))` with the training window's mean as baseline, whose scaled value is 0, so it is
  `w_f · z_f`; a text feature's is the sum over the columns it encodes to (its baseline is "absent", which
  encodes to nothing). The contributions of every feature plus the base value (the intercept) equal the logit
  to rounding: exact, in log-odds, and free of sampling.
- `replace-by-baseline` for every other model (Half-Space Trees, the blend, a user's `--spec` pipeline):
  each feature in turn is replaced by its baseline (a text feature is removed) and the contribution is the
  score minus the score without it, in the model's own score units. Deterministic (no sampling, so no seed
  is needed); its cost is one `score_one` per feature the model reads, plus one.

The population baseline is what the frozen artifact already holds, so versions trained before explanations
existed are explained without changing a byte of them: a `StandardScaler`'s training means (the logistic
regression, the blend's logistic member, a custom pipeline with one), otherwise a `MinMaxScaler`'s training
range midpoint (Half-Space Trees alone). A number for which the model holds neither is left out of the
reasons rather than compared with a guess.

The card's own reference comes from the prediction's features, which are computed from the card's history
in the 24 h window (`fraudlog.domain.features`), so an explanation is a pure function of the log and the
version: replay recomputes it bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from river import compose, linear_model, preprocessing

from fraudlog.domain.records import StoredExplanation
from fraudlog.ml.blend import RankBlend
from fraudlog.ml.encoders import TextAndNumbers
from fraudlog.ml.specs import Features, Model, ModelSpec, model_input, score_one

EXACT = "logreg-exact"
REPLACE_BY_BASELINE = "replace-by-baseline"
EXPLANATION_METHODS = (EXACT, REPLACE_BY_BASELINE)
TOP_K = 5


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature's part in a score."""

    feature: str
    value: float | str
    contribution: float  # signed: > 0 pushed towards fraud; log-odds (exact) or score units (replacement)
    card_reference: float | None  # this card's typical value from its 24 h history, when it has one
    population_reference: float | None  # the baseline from the version's training window, when it holds one
    sentence: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """The top reasons of one prediction and how they were computed."""

    method: str
    units: str  # "log-odds" or "score"
    base_value: float  # exact: the intercept (reasons + base = logit); replacement: the score explained
    top_k: int
    reasons: tuple[Reason, ...]

    def to_dict(self) -> StoredExplanation:
        return {"method": self.method, "units": self.units, "base_value": self.base_value, "top_k": self.top_k,
                "reasons": [{"feature": r.feature, "value": r.value, "contribution": r.contribution,
                             "card_reference": r.card_reference, "population_reference": r.population_reference,
                             "sentence": r.sentence} for r in self.reasons]}


def explain(model: Model, spec: ModelSpec, features: Features, *, top_k: int = TOP_K) -> Explanation:
    """The `top_k` largest contributions (by magnitude, ties by name) to `spec`'s score of `features`."""
    contributions, explanation_base = all_contributions(model, spec, features)
    method, units, base = explanation_base
    baselines = population_baselines(model)
    ranked = sorted(contributions.items(), key=lambda item: (-abs(item[1]), item[0]))[:top_k]
    reasons = tuple(_reason(name, features[name], contribution, features, baselines.get(name))
                    for name, contribution in ranked)
    return Explanation(method, units, base, top_k, reasons)


def all_contributions(model: Model, spec: ModelSpec, features: Features,
                      ) -> tuple[dict[str, float], tuple[str, str, float]]:
    """Every feature's contribution and (method, units, base value)."""
    if _is_logreg_pipeline(spec, model):
        contributions, intercept = logreg_contributions(model, spec, features)
        return contributions, (EXACT, "log-odds", intercept)
    return replacement_contributions(model, spec, features), (REPLACE_BY_BASELINE, "score",
                                                              score_one(model, spec, features))


def logreg_contributions(model: Model, spec: ModelSpec, features: Features) -> tuple[dict[str, float], float]:
    """(feature -> w · (z - z(baseline)), intercept) for a `logreg` pipeline; their sum is the logit."""
    encoder, classifier = model.steps.values()
    weights = classifier._weights  # River keeps them here; `weights` would copy all of them
    x = model_input(model, spec, features)
    scaler = encoder.scaler if isinstance(encoder, TextAndNumbers) else encoder
    numbers = {name: value for name, value in x.items() if not isinstance(value, str)}
    contributions: dict[str, float] = {name: weights.get(name, 0.0) * scaled
                                       for name, scaled in scaler.transform_one(numbers).items()}
    for name, value in x.items():
        if isinstance(value, str) and isinstance(encoder, TextAndNumbers):
            encoded = _encode_text(encoder, name, value)
            contributions[name] = math.fsum(weights.get(column, 0.0) * v for column, v in encoded.items())
    return contributions, float(classifier.intercept)


def logit(model: Model, spec: ModelSpec, features: Features) -> float:
    """The logistic regression's raw log-odds for `features` (what its probability is the sigmoid of)."""
    encoder, classifier = model.steps.values()
    return float(classifier._raw_dot_one(encoder.transform_one(dict(model_input(model, spec, features)))))


def replacement_contributions(model: Model, spec: ModelSpec, features: Features) -> dict[str, float]:
    """feature -> score - score with that feature at its baseline (text: removed); numbers without a baseline
    are left out."""
    x = dict(model_input(model, spec, features))
    score = score_one(model, spec, x)
    baselines = population_baselines(model)
    contributions: dict[str, float] = {}
    for name, value in x.items():
        if isinstance(value, str):
            replaced = {other: v for other, v in x.items() if other != name}
        elif name in baselines:
            replaced = {**x, name: baselines[name]}
        else:
            continue
        contributions[name] = score - score_one(model, spec, replaced)
    return contributions


def population_baselines(model: Model) -> dict[str, float]:
    """feature -> its population baseline as the artifact holds it (see the module docstring)."""
    return baseline_source(model)[1]


def baseline_source(model: Model) -> tuple[str, dict[str, float]]:
    """(where the population baselines come from, feature -> baseline)."""
    if isinstance(model, RankBlend):
        merged: dict[str, float] = {}
        kinds: list[str] = []
        # The logistic member's means first: a mean is a better reference than a range's midpoint.
        for name in sorted(model.models, key=lambda member: member != "logreg"):
            kind, values = baseline_source(model.models[name])
            kinds.append(f"{name}: {kind}")
            for feature, value in values.items():
                merged.setdefault(feature, value)
        return "; ".join(kinds), merged
    steps = model.steps.values() if isinstance(model, compose.Pipeline) else (model,)
    for step in steps:
        step = step.scaler if isinstance(step, TextAndNumbers) else step
        if isinstance(step, preprocessing.StandardScaler):
            return "training means (StandardScaler)", {str(name): float(mean) for name, mean in step.means.items()}
        if isinstance(step, preprocessing.MinMaxScaler):
            return "training range midpoints (MinMaxScaler)", {
                str(name): (low.get() + step.max[name].get()) / 2 for name, low in step.min.items()}
    return "none: numbers are left out of the reasons", {}


@dataclass(frozen=True, slots=True)
class ExplanationMethod:
    """How a version's predictions are explained: a function of its frozen artifact and of the code its lineage
    names (`training_code`), so it is as fixed as the version itself."""

    method: str
    units: str
    top_k: int
    baseline: str  # where the population reference values come from
    features_with_baseline: int
    cost: str  # what one explanation costs, in model evaluations


def explanation_method(model: Model, spec: ModelSpec, *, top_k: int = TOP_K) -> ExplanationMethod:
    baseline, values = baseline_source(model)
    if _is_logreg_pipeline(spec, model):
        return ExplanationMethod(EXACT, "log-odds", top_k, baseline, len(values),
                                 "one pass over the weights, no extra score")
    return ExplanationMethod(REPLACE_BY_BASELINE, "score", top_k, baseline, len(values),
                             "one score_one per feature the model reads, plus one")


def _is_logreg_pipeline(spec: ModelSpec, model: Model) -> bool:
    if spec.name != "logreg" or not isinstance(model, compose.Pipeline) or len(model.steps) != 2:
        return False
    _, classifier = model.steps.values()
    return isinstance(classifier, linear_model.LogisticRegression)


def _encode_text(encoder: TextAndNumbers, name: str, value: str) -> dict[Hashable, Any]:
    if name in encoder.one_hot:
        return dict(encoder.one_hot_encoder.transform_one({name: value}))
    if encoder.hasher is None:
        return {}
    return dict(encoder.hasher.transform_one({name: value}))


# -- what a person reads ----------------------------------------------------------------------------------

_CATEGORY_PLACES = {"merchant_id": "at this merchant", "mcc": "in this merchant category",
                    "country": "in this country", "channel": "through this channel", "device_id": "from this device"}


def card_reference(name: str, features: Features) -> float | None:
    """This card's typical value of feature `name` over its 24 h history, when it has history and one applies."""
    count = features.get("card_count_24h")
    if not isinstance(count, float | int) or count <= 0:
        return None
    if name == "amount":
        return _number(features.get("card_amount_mean_24h"))
    if name == "card_amount_ratio_24h":
        return 1.0
    if name == "card_count_1h":
        return float(count) / 24.0  # its mean hourly count over the day
    return None


def _reason(name: str, value: Any, contribution: float, features: Features, population: float | None) -> Reason:
    card = card_reference(name, features)
    return Reason(name, value, contribution, card, population, sentence(name, value, card, population))


def sentence(name: str, value: Any, card: float | None, population: float | None) -> str:
    """One line a person reads about feature `name` having `value`."""
    if name.startswith("card_") and name.endswith("_new_24h"):
        category = name[len("card_"):-len("_new_24h")]
        place = _CATEGORY_PLACES.get(category, f"with this {category}")
        return f"first payment {place} in 24 h" if value == 1.0 else f"paid {place} before in 24 h"
    if name == "amount" and isinstance(value, float | int):
        if card is not None and card > 0:
            return f"amount {value:.2f} is {value / card:.1f}x this card's 24 h mean of {card:.2f}"
        return f"amount {value:.2f}" + (f" (typical: {population:.2f})" if population is not None else "")
    if name == "card_amount_ratio_24h" and isinstance(value, float | int):
        return f"amount is {value:.1f}x this card's 24 h mean"
    if name == "card_count_1h" and isinstance(value, float | int):
        return f"{value:.0f} earlier payments by this card in the last hour"
    if name == "card_count_24h" and isinstance(value, float | int):
        return f"{value:.0f} earlier payments by this card in 24 h"
    if name == "card_seconds_since_last" and isinstance(value, float | int):
        return ("no earlier payment by this card in 24 h" if value >= 86_400
                else f"{value:.0f} s since this card's previous payment")
    if isinstance(value, str):
        return f"{name.removeprefix('attr_')} {value}"
    typical = f" (typical: {population:.4g})" if population is not None else ""
    return f"{name} {value:.4g}{typical}"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, float | int) and not isinstance(value, bool) else None
