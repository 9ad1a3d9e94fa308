"""Reason codes (`fraudlog.ml.explain`): exact and additive for the logistic regression, deterministic
replacement for every other model, sentences a person reads, and the artifact never changed by explaining."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from river import compose, linear_model, preprocessing

from fraudlog.domain.features import TxView, batch_features
from fraudlog.ml.explain import (
    EXACT,
    REPLACE_BY_BASELINE,
    explain,
    explanation_method,
    logit,
    logreg_contributions,
    population_baselines,
    sentence,
)
from fraudlog.ml.specs import ModelSpec, custom_spec, score_one, spec_for
from fraudlog.ml.training import TrainingData, fit

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def card_stream(n: int, seed: int = 3) -> list[tuple[dict[str, float | str], bool]]:
    """Transactions on 40 cards with text attributes; frauds are large amounts at a few merchants."""
    rng = random.Random(seed)
    views, labels = [], []
    for i in range(n):
        fraud = rng.random() < 0.1
        attributes: dict[str, float | str] = {
            "V1": rng.gauss(0.5 if fraud else 0.0, 1.0),
            "country": rng.choice(("FR", "DE", "ES")),
            "merchant_id": f"m-{rng.randrange(3) if fraud else rng.randrange(3, 500)}"}
        amount = rng.uniform(200, 900) if fraud else rng.uniform(1, 80)
        views.append(TxView(i + 1, f"t-{i}", f"card-{rng.randrange(40)}", T0 + timedelta(seconds=60 * i), amount,
                            attributes))
        labels.append(fraud)
    categories = ("merchant_id",)
    features = batch_features(views, views, categories)
    return [(features[view.position], fraud) for view, fraud in zip(views, labels, strict=True)]


@pytest.fixture(scope="module")
def rows() -> list[tuple[dict[str, float | str], bool]]:
    return card_stream(1_500)


def trained(spec: ModelSpec, rows: list[tuple[dict[str, float | str], bool]]) -> Any:
    data = TrainingData()
    for features, label in rows:
        data.append(features, label)
    return fit(spec, data)[0]


LOGREG = spec_for("logreg").with_categories(("merchant_id",))


def test_logreg_contributions_plus_the_intercept_equal_the_logit(rows: Any) -> None:
    model = trained(LOGREG, rows)
    for features, _ in rows[-300:]:
        contributions, intercept = logreg_contributions(model, LOGREG, features)
        assert intercept + sum(contributions.values()) == pytest.approx(logit(model, LOGREG, features), abs=1e-9)
        assert any(isinstance(features[name], str) for name in contributions)  # text features are explained too


def test_the_numbers_only_logreg_of_old_versions_is_additive_too(rows: Any) -> None:
    spec = ModelSpec.from_dict({"name": "logreg", "params": {}, "features": {"exclude": ["hour_*"]}})
    model = trained(spec, rows)
    for features, _ in rows[-100:]:
        contributions, intercept = logreg_contributions(model, spec, features)
        assert intercept + sum(contributions.values()) == pytest.approx(logit(model, spec, features), abs=1e-9)


def test_an_alert_on_a_large_amount_names_the_amount_against_the_cards_own_mean(rows: Any) -> None:
    model = trained(LOGREG, rows)
    features = next(f for f, fraud in reversed(rows) if fraud and f.get("card_count_24h", 0) > 0)
    explanation = explain(model, LOGREG, features)
    assert explanation.method == EXACT and explanation.units == "log-odds" and len(explanation.reasons) == 5
    magnitudes = [abs(reason.contribution) for reason in explanation.reasons]
    assert magnitudes == sorted(magnitudes, reverse=True)
    names = [reason.feature for reason in explanation.reasons]
    assert "amount" in names or "card_amount_ratio_24h" in names
    amount = next((r for r in explanation.reasons if r.feature == "amount"), None)
    if amount is not None:
        assert amount.card_reference == features["card_amount_mean_24h"]
        assert "x this card's 24 h mean of" in amount.sentence


@pytest.mark.parametrize("name", ["hst", "blend"])
def test_other_families_get_deterministic_replacement_reasons(name: str, rows: Any) -> None:
    spec = spec_for(name).with_categories(("merchant_id",))
    model = trained(spec, rows)
    before = pickle.dumps(model)
    features = rows[-1][0]
    first = explain(model, spec, features)
    second = explain(pickle.loads(before), spec, features)
    assert first == second and first.method == REPLACE_BY_BASELINE and first.reasons
    assert first.base_value == score_one(model, spec, features)
    assert pickle.dumps(model) == before  # explaining never writes to the frozen model


def logreg_factory() -> compose.Pipeline:
    return compose.Pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression())


def test_a_custom_spec_model_gets_model_agnostic_reasons(rows: Any) -> None:
    spec = custom_spec(f"{__name__}:logreg_factory")
    numbers = [({k: v for k, v in f.items() if not isinstance(v, str)}, label) for f, label in rows]
    model = trained(spec, numbers)
    explanation = explain(model, spec, numbers[-1][0], top_k=3)
    assert explanation.method == REPLACE_BY_BASELINE and len(explanation.reasons) == 3
    assert all(reason.population_reference is not None for reason in explanation.reasons
               if not isinstance(reason.value, str))


def test_sentences_read_as_a_person_would_say_them() -> None:
    assert sentence("amount", 412.0, 44.3, 60.0) == "amount 412.00 is 9.3x this card's 24 h mean of 44.30"
    assert sentence("card_merchant_id_new_24h", 1.0, None, 0.7) == "first payment at this merchant in 24 h"
    assert sentence("card_seconds_since_last", 86_400.0, None, None) == "no earlier payment by this card in 24 h"
    assert sentence("attr_country", "FR", None, None) == "country FR"


@pytest.mark.parametrize(("name", "method", "baseline"), [
    ("logreg", EXACT, "training means (StandardScaler)"),
    ("hst", REPLACE_BY_BASELINE, "training range midpoints (MinMaxScaler)"),
    ("blend", REPLACE_BY_BASELINE, "logreg: training means (StandardScaler); hst: training range midpoints"),
])
def test_a_versions_explanation_method_is_named_by_its_artifact(name: str, method: str, baseline: str,
                                                                rows: Any) -> None:
    """What `GET /v1/models/{v}` shows as `explanation`: the method `explain` uses, and the baselines it reads."""
    spec = spec_for(name).with_categories(("merchant_id",))
    model = trained(spec, rows)
    described = explanation_method(model, spec)
    assert described.method == method == explain(model, spec, rows[-1][0]).method
    assert described.baseline.startswith(baseline)
    assert described.features_with_baseline == len(population_baselines(model)) > 0
