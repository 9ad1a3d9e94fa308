"""Model specs, signed artifacts, prequential training, metrics and thresholds."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fraudlog
from fraudlog.domain.features import TxView, batch_features, compute_features
from fraudlog.ml.artifact import ArtifactRejected, current_module_name, pack, sign, unpack
from fraudlog.ml.datasets import creditcard_transactions, synthetic_stream
from fraudlog.ml.metrics import RunningRocAuc, roc_auc
from fraudlog.ml.specs import SPECS, FeatureSelection, ModelSpec, build_model, learn_one, score_one, spec_for
from fraudlog.ml.training import (
    TrainingData,
    calibrate,
    choose_threshold,
    environment,
    fit,
    training_code,
)

SECRET = b"a secret only the deployment knows"
START = datetime(2026, 1, 5, tzinfo=UTC)

Stream = list[tuple[dict[str, float], bool | None]]


def synthetic_features(n: int, seed: int = 7) -> Stream:
    rows = list(synthetic_stream(n, seed=seed, start=START, cards=50))
    views = [TxView.from_payload(i + 1, tx) for i, (tx, _) in enumerate(rows)]
    features = batch_features(views, views)
    return [(features[view.position], is_fraud) for view, (_, is_fraud) in zip(views, rows, strict=True)]


@pytest.fixture(scope="module")
def stream() -> Stream:
    return synthetic_features(1_200)


def window(stream: Stream) -> TrainingData:
    data = TrainingData()
    for features, label in stream:
        data.append(features, label)
    return data


def trained(name: str, stream: Stream, **params: Any) -> tuple[Any, ModelSpec]:
    spec = spec_for(name, **params)
    return fit(spec, window(stream))[0], spec


# -- specs ------------------------------------------------------------------------------------------------


def test_spec_defaults_and_overrides_round_trip_through_lineage() -> None:
    spec = spec_for("hst", n_trees=12)
    assert spec.params == {"n_trees": 12, "height": 10, "window_size": 1_000, "seed": 42, "passes": 1,
                           "window": 20_000}
    assert spec.features == FeatureSelection(exclude=("hour_of_day", "hour_sin", "hour_cos"))
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert SPECS["logreg"].supervised and not SPECS["hst"].supervised and SPECS["blend"].supervised


def test_a_spec_recorded_before_specs_declared_features_reads_every_feature() -> None:
    old = {"name": "hst", "params": {"n_trees": 10, "height": 8, "window_size": 250, "seed": 42}, "supervised": False}
    assert ModelSpec.from_dict(old).features == FeatureSelection()


def test_a_spec_reads_only_the_features_it_declares() -> None:
    spec = spec_for("logreg").with_features(include=("amount", "attr_*"), exclude=("attr_V2",))
    features = {"amount": 1.0, "hour_sin": 0.5, "attr_V1": 2.0, "attr_V2": 3.0, "card_count_1h": 4.0}
    assert spec.features.select(features) == {"amount": 1.0, "attr_V1": 2.0}
    assert spec_for("logreg").features.select(features) == {"amount": 1.0, "attr_V1": 2.0, "attr_V2": 3.0,
                                                           "card_count_1h": 4.0}


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("forest", {}, "unknown model 'forest'"),
        ("hst", {"n_tree": 5}, "no hyperparameter n_tree"),
        ("hst", {"seed": 4.2}, "seed must be int"),
        ("logreg", {"l2": True}, "l2 must be float"),
        ("hst", {"n_trees": 0}, "n_trees must be > 0"),
    ],
)
def test_spec_for_refuses_what_it_would_not_build(name: str, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec_for(name, **overrides)


def test_hst_is_the_reference_pipeline() -> None:
    model = build_model(spec_for("hst"))
    assert [type(step).__name__ for step in model.steps.values()] == ["MinMaxScaler", "HalfSpaceTrees"]
    assert model["HalfSpaceTrees"].seed == 42


@pytest.mark.parametrize("name", ["hst", "logreg"])
def test_score_one_never_changes_the_model_even_for_unseen_features(name: str, stream: Stream) -> None:
    model, spec = trained(name, stream)
    features = stream[-1][0]
    before = pack(model, SECRET).sha256
    plain = score_one(model, spec, features)
    with_unseen = score_one(model, spec, {**features, "attr_never_seen": 3.0})
    assert pack(model, SECRET).sha256 == before
    assert with_unseen == plain


def test_logreg_score_is_the_probability_of_fraud(stream: Stream) -> None:
    model, spec = trained("logreg", stream)
    features = stream[-1][0]
    assert score_one(model, spec, features) == model.predict_proba_one(spec.features.select(features))[True]


def test_supervised_model_learns_nothing_from_unlabelled_events(stream: Stream) -> None:
    spec = spec_for("logreg")
    model, report = fit(spec, window([(features, None) for features, _ in stream]))
    assert pack(model, SECRET).sha256 == pack(build_model(spec), SECRET).sha256
    assert report.n_labels == 0 and report.roc_auc is None and report.learned == 0


def test_unsupervised_model_ignores_labels(stream: Stream) -> None:
    spec = spec_for("hst")
    with_labels = fit(spec, window(stream))[0]
    without = fit(spec, window([(features, None) for features, _ in stream]))[0]
    assert pack(with_labels, SECRET).sha256 == pack(without, SECRET).sha256


# -- artifacts ---------------------------------------------------------------------------------------------


def test_artifact_round_trip_gives_the_same_scores(stream: Stream) -> None:
    model, spec = trained("hst", stream)
    artifact = pack(model, SECRET)
    loaded = unpack(artifact.blob, artifact.sha256, artifact.hmac, SECRET, version=3)
    assert [score_one(loaded, spec, f) for f, _ in stream[-50:]] == [score_one(model, spec, f) for f, _ in stream[-50:]]


def test_artifact_with_one_byte_changed_is_refused_naming_version_and_sha256(stream: Stream) -> None:
    artifact = pack(trained("logreg", stream)[0], SECRET)
    tampered = bytearray(artifact.blob)
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(ArtifactRejected, match=r"model version 7: artifact SHA-256 check failed") as caught:
        unpack(bytes(tampered), artifact.sha256, artifact.hmac, SECRET, version=7)
    assert (caught.value.version, caught.value.check) == (7, "SHA-256")


def test_artifact_whose_sha256_was_recomputed_by_a_forger_fails_the_hmac(stream: Stream) -> None:
    forged = pack(trained("logreg", stream)[0], b"the forger's own key")
    with pytest.raises(ArtifactRejected, match=r"model version 4: artifact HMAC check failed"):
        unpack(forged.blob, forged.sha256, forged.hmac, SECRET, version=4)


def test_artifact_checked_with_the_wrong_secret_is_refused(stream: Stream) -> None:
    artifact = pack(trained("hst", stream)[0], SECRET)
    with pytest.raises(ArtifactRejected, match=r"model version 2: artifact HMAC check failed"):
        unpack(artifact.blob, artifact.sha256, artifact.hmac, b"another key", version=2)


def test_an_artifact_pickled_when_the_package_was_service_still_loads(stream: Stream) -> None:
    """Versions stored before the package was renamed name fraudlog's classes `service.ml...` in the pickle."""
    model, spec = trained("blend", stream)
    current = pickle.dumps(model, protocol=2)  # names classes with GLOBAL opcodes: `c` module newline name
    assert b"cfraudlog.ml." in current
    old = current.replace(b"cfraudlog.", b"cservice.")
    loaded = unpack(old, hashlib.sha256(old).hexdigest(), sign(old, SECRET), SECRET, version=1)
    assert [score_one(loaded, spec, f) for f, _ in stream[-50:]] == [score_one(model, spec, f) for f, _ in stream[-50:]]
    assert current_module_name("service.ml.blend") == "fraudlog.ml.blend"
    assert current_module_name("service.not_ours.thing") == "service.not_ours.thing"  # someone's own `service`
    assert current_module_name("river.linear_model") == "river.linear_model"


_unpickled: list[str] = []


def _record_unpickling(note: str) -> list[str]:
    _unpickled.append(note)
    return _unpickled


class _Payload:
    """An object whose unpickling runs code, as an attacker's artifact would."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _record_unpickling, ("code ran",)


def test_nothing_is_unpickled_before_both_checks_pass() -> None:
    evil = pack(_Payload(), b"the forger's own key")
    with pytest.raises(ArtifactRejected):
        unpack(evil.blob, evil.sha256, evil.hmac, SECRET, version=1)
    assert _unpickled == []
    signed = pack(_Payload(), SECRET)
    unpack(signed.blob, signed.sha256, signed.hmac, SECRET, version=1)
    assert _unpickled == ["code ran"]  # the test's own payload does run once signed: the check is the guard


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        pack(build_model(spec_for("hst")), b"")


# -- determinism (invariant 8, docs/INVARIANTS.md) --------------------------------------------------------------


@pytest.mark.parametrize("name", ["hst", "logreg"])
def test_training_twice_from_scratch_gives_the_same_artifact(name: str, stream: Stream) -> None:
    first, second = trained(name, stream)[0], trained(name, stream)[0]
    assert pack(first, SECRET).sha256 == pack(first, SECRET).sha256
    assert pack(first, SECRET).sha256 == pack(second, SECRET).sha256


def test_fit_learns_every_labelled_event_passes_times_in_log_order(stream: Stream) -> None:
    spec = spec_for("logreg", passes=2)
    by_hand = build_model(spec)
    for _ in range(2):
        for features, label in stream:
            learn_one(by_hand, spec, features, label)
    model, report = fit(spec, window(stream))
    assert pack(model, SECRET).sha256 == pack(by_hand, SECRET).sha256
    assert report.learned == 2 * sum(1 for _, label in stream if label is not None)


def test_fit_learns_only_the_newest_window_of_events(stream: Stream) -> None:
    assert pack(trained("logreg", stream, window=500)[0], SECRET).sha256 == pack(
        trained("logreg", stream[-500:])[0], SECRET).sha256


def test_a_blend_is_the_mean_of_its_members_percentiles(stream: Stream) -> None:
    blend, spec = trained("blend", stream, reference_size=400)
    features = stream[-1][0]
    members = blend.member_scores(features)
    ranks = []
    for name, score in members.items():
        reference = blend.references[name]
        assert len(reference) == 400
        ranks.append((sum(r < score for r in reference) + sum(r == score for r in reference) / 2) / 400)
    assert score_one(blend, spec, features) == pytest.approx(sum(ranks) / 2)
    assert pack(blend, SECRET).sha256 == pack(trained("blend", stream, reference_size=400)[0], SECRET).sha256


def test_calibration_chooses_the_threshold_on_the_frozen_models_own_scores(stream: Stream) -> None:
    model, spec = trained("logreg", stream)
    calibration = calibrate(model, spec, window(stream), 0.05, transactions=1_000)
    frozen = [score_one(model, spec, features) for features, _ in stream[-1_000:]]
    assert calibration.threshold == choose_threshold(frozen, 0.05)
    assert calibration.transactions == 1_000 and 0.04 <= calibration.alert_rate <= 0.06


_TRAIN_AND_HASH = """
from datetime import UTC, datetime
from fraudlog.domain.features import TxView, batch_features
from fraudlog.ml.artifact import pack
from fraudlog.ml.datasets import synthetic_stream
from fraudlog.ml.specs import build_model, spec_for
from fraudlog.ml.training import TrainingData, fit
rows = list(synthetic_stream(400, seed=3, start=datetime(2026, 1, 5, tzinfo=UTC), cards=20))
views = [TxView.from_payload(i, tx) for i, (tx, _) in enumerate(rows)]
features = batch_features(views, views)
data = TrainingData()
for v, (_, y) in zip(views, rows):
    data.append(features[v.position], y)
for name in ("hst", "logreg", "blend"):
    print(pack(fit(spec_for(name), data)[0], b"key").sha256)
"""


def test_training_gives_the_same_artifact_in_processes_with_different_hash_seeds() -> None:
    # The iteration order of a set of strings changes with PYTHONHASHSEED; an artifact must not.
    root = Path(fraudlog.__file__).resolve().parent.parent
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _TRAIN_AND_HASH],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in ("1", "2")
    ]
    outputs = [run.communicate(timeout=120)[0].split() for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert len(outputs[0]) == 3 and outputs[0] == outputs[1]


# -- prequential training --------------------------------------------------------------------------------------


def test_prequential_auc_scores_each_event_before_learning_it(stream: Stream) -> None:
    spec = spec_for("logreg")
    report = fit(spec, window(stream[:300]))[1]
    replay, scores, labels = build_model(spec), [], []
    for features, label in stream[:300]:
        if label is not None:
            scores.append(score_one(replay, spec, features))
            labels.append(label)
        learn_one(replay, spec, features, label)
    assert scores[0] == 0.5  # nothing learned yet: the first score cannot have seen its event
    assert report.roc_auc == roc_auc(scores, labels)


def test_prequential_report_counts_events_labels_and_frauds() -> None:
    stream: Stream = [({"amount": float(i)}, [True, False, None][i % 3]) for i in range(30)]
    spec = spec_for("logreg")
    report = fit(spec, window(stream))[1]
    assert (report.n_events, report.n_labels, report.n_frauds, report.learned) == (30, 20, 10, 60)
    assert report.metrics()["n_labels"] == 20


def test_hst_prequential_auc_on_the_first_2500_sample_rows(creditcard_csv: Path) -> None:
    rows = creditcard_transactions(creditcard_csv, start=datetime(2013, 9, 1, tzinfo=UTC), limit=2_500)
    stream = [(compute_features(TxView.from_payload(i, tx), ()), label) for i, (tx, label) in enumerate(rows)]
    # River's reference pipeline and its features (the time of day included), as its docstring has them.
    spec = spec_for("hst", n_trees=10, height=8, window_size=250).with_features(exclude=())
    report = fit(spec, window(stream))[1]
    print(f"hst prequential ROC AUC, first 2,500 sample rows: {report.roc_auc:.4f} ({report.n_frauds} frauds)")
    assert report.n_events == 2_500
    assert report.roc_auc is not None and report.roc_auc > 0.85


def test_card_features_help_a_supervised_model_on_the_synthetic_stream() -> None:
    stream = synthetic_features(6_000, seed=11)
    cardless = [({k: v for k, v in f.items() if not k.startswith("card_")}, y) for f, y in stream]
    spec = spec_for("logreg", passes=1)
    with_cards = fit(spec, window(stream))[1].roc_auc
    without = fit(spec, window(cardless))[1].roc_auc
    print(f"logreg prequential ROC AUC on synthetic data: {with_cards:.4f} with card features, {without:.4f} without")
    assert with_cards is not None and without is not None
    assert with_cards > 0.9 and with_cards > without


# -- metrics -------------------------------------------------------------------------------------------------


def pairwise_auc(scores: list[float], labels: list[bool]) -> float | None:
    labelled = list(zip(scores, labels, strict=True))
    pairs = [(p, n) for p, lp in labelled for n, ln in labelled if lp and not ln]
    if not pairs:
        return None
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


_scored = st.lists(
    st.tuples(st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(-1e6, 1e6)), st.booleans()),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(scored=_scored)
def test_roc_auc_equals_the_pairwise_definition_with_ties_counted_half(scored: list[tuple[float, bool]]) -> None:
    scores, labels = [s for s, _ in scored], [y for _, y in scored]
    expected = pairwise_auc(scores, labels)
    # Both count pairs exactly and divide once, so they agree to the last bit.
    assert roc_auc(scores, labels) == expected
    running = RunningRocAuc()
    for score, label in scored:
        running.add(score, label)
    assert running.value == expected


def test_roc_auc_needs_both_classes() -> None:
    assert roc_auc([0.1, 0.9], [True, True]) is None
    assert roc_auc([], []) is None
    assert roc_auc([0.1, 0.9], [False, True]) == 1.0
    assert roc_auc([0.5, 0.5], [False, True]) == 0.5


def test_roc_auc_uses_scores_not_decisions() -> None:
    scores, labels = [0.1, 0.2, 0.3, 0.4, 0.45], [False, False, True, False, True]
    thresholded = [1.0 if s >= 0.5 else 0.0 for s in scores]
    assert roc_auc(thresholded, labels) == 0.5  # the trap: every score below the threshold
    assert roc_auc(scores, labels) == pytest.approx(5 / 6)


def test_roc_auc_refuses_nan_and_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([float("nan"), 1.0], [True, False])
    with pytest.raises(ValueError, match="2 scores but 1 labels"):
        roc_auc([0.0, 1.0], [True])


# -- thresholds and lineage facts -----------------------------------------------------------------------------


def test_threshold_alerts_on_the_target_share_of_scores() -> None:
    scores = [((i * 7_919) % 10_007) / 10_007 for i in range(10_000)]
    for rate in (0.001, 0.01, 0.05, 0.5):
        threshold = choose_threshold(scores, rate)
        assert sum(s >= threshold for s in scores) == round(rate * len(scores))


def test_threshold_with_ties_picks_the_nearest_achievable_rate() -> None:
    scores = [0.1] * 900 + [0.6] * 85 + [0.9] * 15  # rates can only be 1.5 %, 10 % or 100 %
    assert choose_threshold(scores, 0.02) == 0.9
    assert choose_threshold(scores, 0.08) == 0.6
    assert choose_threshold(scores, 0.01) == 0.9
    assert choose_threshold(scores, 0.9) == 0.1


def test_threshold_is_deterministic_and_order_free() -> None:
    scores = [0.3, 0.1, 0.7, 0.7, 0.2, 0.9]
    assert choose_threshold(scores, 0.5) == choose_threshold(sorted(scores), 0.5) == 0.7


def test_threshold_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        choose_threshold([], 0.01)
    with pytest.raises(ValueError):
        choose_threshold([0.5], 0.0)


def test_environment_names_the_versions_that_build_artifacts() -> None:
    assert set(environment()) == {"python", "river", "cloudpickle", "numpy", "scipy", "fraudlog", "lock_sha256"}


def test_training_code_names_module_function_version_and_commit() -> None:
    assert msgspec.to_builtins(training_code(fit, "0123abc")) == {
        "module": "fraudlog.ml.training",
        "function": "fit",
        "package_version": fraudlog.__version__,
        "git_commit": "0123abc",
    }
    commit = training_code(fit).git_commit
    assert commit is None or len(commit) in (40, 64)
