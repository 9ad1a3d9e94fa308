"""The promotion policy decides on paired evidence: enough frauds, and DeLong's test at the stated confidence."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudlog.lifecycle.promotion import PromotionPolicy, Shadow, decide
from fraudlog.ml.evidence import delong_test
from fraudlog.ml.metrics import roc_auc


def shadow(version: int, *, n: int, frauds: int, champion_skill: float, challenger_skill: float,
           seed: int = 1) -> Shadow:
    """Paired scores where each model's fraud scores are shifted up by its skill (noise shared in part)."""
    rng = random.Random(seed)
    labels = [i < frauds for i in range(n)]
    rng.shuffle(labels)
    champion, challenger = [], []
    for is_fraud in labels:
        common = rng.gauss(0, 1)
        champion.append(common + rng.gauss(0, 1) + champion_skill * is_fraud)
        challenger.append(common + rng.gauss(0, 1) + challenger_skill * is_fraud)
    return Shadow(version, champion, challenger, labels)


def test_a_clearly_better_challenger_is_promoted_with_its_evidence() -> None:
    [decision] = decide(PromotionPolicy(), 1, [shadow(2, n=4_000, frauds=60, champion_skill=1.0, challenger_skill=3.0)])
    assert decision.action == "promote" and decision.version == 2
    evidence = decision.evidence
    assert evidence.champion == 1 and evidence.frauds == 60 and evidence.transactions == 4_000
    assert evidence.challenger_auc > evidence.champion_auc and evidence.p_value < 0.05


def test_a_challenger_with_less_than_the_minimum_evidence_is_never_promoted() -> None:
    # Far better, but only 29 labelled frauds against a minimum of 30.
    [decision] = decide(PromotionPolicy(min_frauds=30), 1,
                        [shadow(2, n=4_000, frauds=29, champion_skill=0.0, challenger_skill=5.0)])
    assert decision.action == "keep" and "29 of 30" in decision.reason
    assert decision.evidence.p_value is None


def test_a_worse_challenger_is_never_promoted_and_is_retired_once_shown_worse() -> None:
    [decision] = decide(PromotionPolicy(), 1, [shadow(2, n=4_000, frauds=80, champion_skill=3.0, challenger_skill=1.0)])
    assert decision.action == "retire"


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), skill=st.floats(0.0, 3.0))
def test_an_equal_or_worse_challenger_is_never_promoted(seed: int, skill: float) -> None:
    evidence = shadow(2, n=3_000, frauds=45, champion_skill=skill + 0.5, challenger_skill=skill, seed=seed)
    assert all(d.action != "promote" for d in decide(PromotionPolicy(confidence=0.99), 1, [evidence]))


def test_of_two_better_challengers_the_best_is_promoted_and_the_other_stays() -> None:
    good = shadow(2, n=4_000, frauds=60, champion_skill=0.5, challenger_skill=2.5, seed=3)
    best = shadow(3, n=4_000, frauds=60, champion_skill=0.5, challenger_skill=4.0, seed=4)
    decisions = {d.version: d.action for d in decide(PromotionPolicy(), 1, [good, best])}
    assert decisions == {3: "promote", 2: "keep"}


def test_more_challengers_than_allowed_retires_the_worst() -> None:
    shadows = [shadow(v, n=500, frauds=10, champion_skill=1.0, challenger_skill=skill, seed=v)
               for v, skill in ((2, 2.0), (3, 0.2), (4, 1.5))]
    decisions = {d.version: d.action for d in decide(PromotionPolicy(max_challengers=2), 1, shadows)}
    assert decisions == {2: "keep", 3: "retire", 4: "keep"}


def brute_force_auc(scores: list[float], labels: list[bool]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.floats(-5, 5), st.booleans()),
                min_size=4, max_size=80))
def test_delong_aucs_are_the_exact_rank_aucs_ties_counted_half(rows: list[tuple[float, float, bool]]) -> None:
    a, b, y = (list(column) for column in zip(*rows, strict=True))
    if all(y) or not any(y):
        with pytest.raises(ValueError):
            delong_test(a, b, y)
        return
    result = delong_test(a, b, y)
    assert result.incumbent_auc == pytest.approx(brute_force_auc(a, y))
    assert result.candidate_auc == pytest.approx(roc_auc(b, y))
    assert 0.0 <= result.p_value <= 1.0


def test_delong_on_identical_scores_says_nothing() -> None:
    scores = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9]
    labels = [False, False, True, True, False, True]
    result = delong_test(scores, scores, labels)
    assert result.difference == 0.0 and result.p_value == 0.5


# -- each branch of `decide`, directly (issue 15) ------------------------------------------------------------

def test_enough_evidence_but_no_significant_difference_keeps_the_challenger_with_its_evidence() -> None:
    [decision] = decide(PromotionPolicy(), 1, [shadow(2, n=4_000, frauds=60, champion_skill=2.0,
                                                      challenger_skill=2.0, seed=5)])
    assert (decision.action, decision.reason) == ("keep", "no significant difference yet")
    assert 0.05 <= decision.evidence.p_value <= 0.95


def test_too_few_legitimate_transactions_is_not_enough_evidence_either() -> None:
    # Frauds aplenty and a far better challenger, but only 99 legitimate transactions against a minimum of 100.
    [decision] = decide(PromotionPolicy(min_frauds=30, min_legitimate=100), 1,
                        [shadow(2, n=199, frauds=100, champion_skill=0.0, challenger_skill=5.0)])
    assert decision.action == "keep" and decision.evidence.p_value is None


def test_a_worse_challenger_is_retired_with_the_evidence_that_shows_it() -> None:
    [decision] = decide(PromotionPolicy(), 1, [shadow(2, n=4_000, frauds=80, champion_skill=3.0, challenger_skill=1.0)])
    assert decision.reason == "ROC AUC lower than the champion's on the same transactions"
    assert decision.evidence.p_value > 0.95
    assert decision.evidence.challenger_auc < decision.evidence.champion_auc


def test_too_many_challengers_without_any_labels_retires_the_oldest() -> None:
    unlabelled = [Shadow(v, [], [], []) for v in (5, 3, 4)]
    decisions = [(d.version, d.action) for d in decide(PromotionPolicy(max_challengers=2), 1, unlabelled)]
    assert decisions == [(3, "retire"), (4, "keep"), (5, "keep")]


def test_a_promotion_comes_first_and_the_surplus_is_counted_without_it() -> None:
    better = shadow(2, n=4_000, frauds=60, champion_skill=0.5, challenger_skill=4.0, seed=6)
    others = [Shadow(v, [], [], []) for v in (3, 4, 5)]
    decisions = [(d.version, d.action) for d in decide(PromotionPolicy(max_challengers=2), 1, [better, *others])]
    assert decisions == [(2, "promote"), (3, "retire"), (4, "keep"), (5, "keep")]
