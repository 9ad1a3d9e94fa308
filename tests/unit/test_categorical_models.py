"""Text features in the built-in specs: logreg encodes them (one-hot, hashing), HST never sees them, versions
written before text attributes existed rebuild as they were, and numbers-only data scores exactly as before."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from river import base

from fraudlog.domain.features import TxView, batch_features
from fraudlog.ml.metrics import roc_auc
from fraudlog.ml.specs import ModelSpec, build_model, custom_spec, learn_one, score_one, spec_for
from fraudlog.ml.training import TrainingData, fit

T0 = datetime(2026, 3, 1, tzinfo=UTC)
COUNTRIES = ("FR", "DE", "ES", "IT", "Zürich", "東京")


def stream(n: int, seed: int = 5, *, text: bool = True) -> list[tuple[dict[str, float | str], bool]]:
    """Fraud is far likelier in one country and at a handful of merchants; the numbers carry a little signal."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        fraud = rng.random() < 0.1
        attributes: dict[str, float | str] = {"V1": rng.gauss(0.4 if fraud else 0.0, 1.0)}
        if text:
            attributes["country"] = "東京" if fraud and rng.random() < 0.8 else rng.choice(COUNTRIES[:-1])
            attributes["merchant_id"] = f"m-{rng.randrange(5) if fraud else rng.randrange(5, 2_000)}"
        rows.append((TxView(i + 1, f"t-{i}", None, T0 + timedelta(seconds=i), rng.uniform(1, 100), attributes),
                     fraud))
    features = batch_features([view for view, _ in rows], [])
    return [(features[view.position], fraud) for view, fraud in rows]


def trained(spec: ModelSpec, rows: list[tuple[dict[str, float | str], bool]]) -> Any:
    data = TrainingData()
    for features, label in rows:
        data.append(features, label)
    return fit(spec, data)[0]


def auc(model: Any, spec: ModelSpec, rows: list[tuple[dict[str, float | str], bool]]) -> float:
    return roc_auc([score_one(model, spec, f) for f, _ in rows], [label for _, label in rows])


NUMBERS_ONLY_LINEAGE = {"name": "logreg", "params": {"learning_rate": 0.01, "l2": 0.001, "passes": 3,
                                                     "window": 100_000}, "supervised": True,
                        "features": {"include": ["*"], "exclude": ["hour_of_day", "hour_sin", "hour_cos"]}}


def test_a_lineage_from_before_text_attributes_rebuilds_the_numbers_only_pipeline() -> None:
    spec = ModelSpec.from_dict(NUMBERS_ONLY_LINEAGE)
    assert spec.params["hash_features"] == 0 and spec.params["one_hot"] == [] and spec.categories == ()
    assert [type(step).__name__ for step in build_model(spec).steps.values()] == ["StandardScaler",
                                                                                  "LogisticRegression"]
    current = spec_for("logreg").with_categories(("country",))
    assert ModelSpec.from_dict(current.to_dict()) == current


def test_numbers_only_data_scores_bit_for_bit_as_the_numbers_only_pipeline() -> None:
    rows = stream(1_500, text=False)
    legacy = ModelSpec.from_dict(NUMBERS_ONLY_LINEAGE)
    encoding = spec_for("logreg")
    old, new = trained(legacy, rows), trained(encoding, rows)
    assert [score_one(old, legacy, f).hex() for f, _ in rows] == [score_one(new, encoding, f).hex() for f, _ in rows]


def test_logreg_learns_from_one_hot_and_hashed_text_on_later_data() -> None:
    train, later = stream(3_000, seed=1), stream(2_000, seed=2)
    with_text = spec_for("logreg")
    numbers_only = ModelSpec.from_dict(NUMBERS_ONLY_LINEAGE)
    assert auc(trained(with_text, train), with_text, later) > auc(trained(numbers_only, train), numbers_only,
                                                                  later) + 0.1


def test_score_one_never_changes_the_model_for_text_it_never_saw() -> None:
    spec = spec_for("logreg")
    model = trained(spec, stream(500))
    before = pickle.dumps(model)
    score_one(model, spec, {"attr_V1": 0.3, "amount": 4.0, "attr_country": "Atlantis", "attr_merchant_id": "new",
                            "attr_never_seen": 1.0})
    assert pickle.dumps(model) == before


def test_hst_reads_numbers_only() -> None:
    spec = spec_for("hst")
    rows = stream(600)
    model = trained(spec, rows)
    for features, _ in rows[:50]:
        numbers = {k: v for k, v in features.items() if not isinstance(v, str)}
        assert score_one(model, spec, features) == score_one(model, spec, numbers)


def test_a_version_keeps_only_its_own_categories_features() -> None:
    views = [TxView(i + 1, f"t-{i}", "card-1", T0 + timedelta(minutes=i), 1.0,
                    {"country": "FR" if i % 2 else "DE", "device_id": f"d-{i % 3}"}) for i in range(6)]
    both = batch_features(views, [], ("country", "device_id"))
    alone = batch_features(views, [], ("country",))
    spec = spec_for("logreg").with_categories(("country",))
    assert {p: spec.own_features(f, ("country", "device_id")) for p, f in both.items()} == alone


class RecordsInputs(base.Classifier):
    """A user's own model that keeps what it was given."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def learn_one(self, x: dict[str, Any], y: Any) -> None:
        self.seen.append(dict(x))

    def predict_proba_one(self, x: dict[str, Any]) -> dict[bool, float]:
        self.seen.append(dict(x))
        return {False: 0.5, True: 0.5}


def recording_factory() -> RecordsInputs:
    return RecordsInputs()


def test_a_users_own_pipeline_receives_the_raw_text() -> None:
    spec = custom_spec(f"{__name__}:recording_factory")
    model = build_model(spec)
    features: dict[str, float | str] = {"amount": 3.0, "attr_country": "東京", "card_country_new_24h": 1.0}
    learn_one(model, spec, features, True)
    score_one(model, spec, features)
    assert model.seen == [features, features]
