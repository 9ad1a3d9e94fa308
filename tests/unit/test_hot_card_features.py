"""A hot card costs O(log n) per transaction for every per-card feature, numeric and categorical (issue 27,
defect 1), with features bit-identical to the plain definition they had before (invariant 3): the oracle
below is the computation batches ran before the change, a fresh list of each target's history summed and
counted in full."""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType

from hypothesis import given, settings
from hypothesis import strategies as st

from fraudlog.domain import card_walk, categorical, category_walk, fenwick
from fraudlog.domain import features as features_module
from fraudlog.domain.features import (
    FeatureValues,
    HistoryQuery,
    TxView,
    batch_features,
    compute_features,
    history_query,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CATEGORIES = ("merchant_id", "device_id", "mcc")
_HALF_HOUR_US = 1_800_000_000


def reference_batch_features(targets: Sequence[TxView], candidates: Sequence[TxView],
                             categories: Sequence[str]) -> dict[int, FeatureValues]:
    """The old computation: each target's history listed afresh (O(window) per target) and summarised by the
    plain definition (`compute_features`, whose numeric sum is `math.fsum` and whose categorical features
    are sets and counts over the list)."""
    known = {event.position: event for event in (*candidates, *targets)}
    history = list(known.values())
    return {tx.position: compute_features(tx, history, categories) for tx in sorted(targets, key=lambda t: t.position)}


def exact(features: FeatureValues) -> list[tuple[str, str]]:
    """Names in order (a linear model sums in dict order) and values by their bits (-0.0 is not 0.0)."""
    return [(name, value.hex() if isinstance(value, float) else repr(value)) for name, value in features.items()]


# Half-hour steps put events exactly 1 h and 24 h apart (the windows' edges) and at the same instant (ties);
# microsecond offsets put them one microsecond either side of an edge.
_offsets = st.one_of(st.integers(-60, 60).map(lambda k: k * _HALF_HOUR_US),
                     st.integers(-60, 60).map(lambda k: k * _HALF_HOUR_US + 1),
                     st.integers(-60, 60).map(lambda k: k * _HALF_HOUR_US - 1))
# Amounts whose sum depends on the order it is taken in (1e16 + 1.0 + 1.0), or rounds (0.1 + 0.2), or saturates;
# every one an amount the contract admits (finite, >= 0: `fraudlog.domain.events.Amount`). With negative
# amounts, which the API refuses, `math.fsum` can overflow in an intermediate partial of a finite sum and the
# old definition saturates where the exact sum does not (hypothesis found such a case).
_amounts = st.one_of(st.sampled_from([0.1, 0.2, 0.3, 1.0, 1e16, 0.0, -0.0, 5e-324, sys.float_info.max]),
                     st.floats(min_value=0.0, allow_nan=False, allow_infinity=False))
_texts = st.one_of(st.none(), st.just(3.0), st.sampled_from(["a", "b", "c", "d"]))
_rows = st.lists(st.tuples(st.sampled_from(["hot", "hot", "hot", "other", None]), _offsets, _amounts,
                           _texts, _texts, _texts), min_size=1, max_size=60)


def _log(rows: list[tuple[str | None, int, float, object, object, object]]) -> list[TxView]:
    # Positions have gaps and event times are not in position order: late events come anywhere.
    log = []
    for i, (card, offset, amount, *values) in enumerate(rows):
        attributes: dict[str, float | str] = {"V1": float(i)}
        for category, value in zip(CATEGORIES, values, strict=True):
            if value is not None:
                attributes[category] = value  # type: ignore[assignment]
        log.append(TxView(2 * i + 1, f"tx-{i}", card, T0 + timedelta(microseconds=offset), amount, attributes))
    return log


def _fetch(log: list[TxView], query: HistoryQuery | None) -> list[TxView]:
    """What the store returns for a history query: card, time, amount and the categories' text values."""
    if query is None:
        return []
    return [TxView(e.position, e.transaction_id, e.card_id, e.event_time, e.amount,
                   {k: v for k, v in e.attributes.items() if k in CATEGORIES and isinstance(v, str)})
            for e in log
            if e.card_id in query.card_ids and e.event_time > query.since and e.position < query.before_position]


@settings(max_examples=400, deadline=None)
@given(rows=_rows, data=st.data())
def test_features_equal_the_old_computation_bit_for_bit_under_any_batching(
    rows: list[tuple[str | None, int, float, object, object, object]], data: st.DataObject,
) -> None:
    log = _log(rows)
    expected = {e.position: exact(compute_features(e, log[:i], CATEGORIES)) for i, e in enumerate(log)}
    order = data.draw(st.permutations(log), label="processing order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(log) - 1))), label="cuts"))
    categories = data.draw(st.permutations(CATEGORIES), label="categories' order")
    shuffler = random.Random(data.draw(st.integers(0, 2**32), label="shuffle seed"))
    for lo, hi in zip([0, *cuts], [*cuts, len(order)], strict=True):
        batch = order[lo:hi]
        candidates = _fetch(log, history_query(batch))
        shuffler.shuffle(candidates)
        walked = batch_features(batch, candidates, categories)
        assert {p: exact(f) for p, f in walked.items()} == {
            p: exact(f) for p, f in reference_batch_features(batch, candidates, categories).items()}
        if tuple(categories) == CATEGORIES:
            assert {p: exact(f) for p, f in walked.items()} == {p: expected[p] for p in walked}


# -- cost: counted in Python lines run, an operation count that cannot be flaky ----------------------------

_WATCHED = {module.__file__ for module in (features_module, card_walk, category_walk, categorical, fenwick)}


def _lines_run(burst: int, *, history: int = 0) -> int:
    """Lines run in the feature modules to compute one batch of `burst` transactions of one card, after
    `history` earlier ones, each with its own merchant, device and mcc, all within a day of each other."""
    log = [TxView(i, f"tx-{i}", "hot", T0 + timedelta(seconds=i), float(i % 97),
                  {"merchant_id": f"m{i}", "device_id": f"d{i}", "mcc": f"{i % 9000}"})
           for i in range(1, history + burst + 1)]
    lines = 0

    def trace(frame: FrameType, event: str, arg: object) -> object:
        nonlocal lines
        if frame.f_code.co_filename not in _WATCHED:
            return None
        if event == "line":
            lines += 1
        return trace

    sys.settrace(trace)
    try:
        batch_features(log[history:], log[:history], CATEGORIES)
    finally:
        sys.settrace(None)
    return lines


def test_a_burst_on_one_card_costs_n_log_n_not_n_squared() -> None:
    # Four times the burst: n log n costs about 5x the operations, a quadratic walk 16x.
    small, large = _lines_run(1_000), _lines_run(4_000)
    assert large / small < 8, (small, large)


def test_a_few_targets_after_a_long_history_cost_linear_in_the_history() -> None:
    # The history preceding a batch is loaded in one pass, then each target costs O(log n).
    small, large = _lines_run(50, history=1_000), _lines_run(50, history=4_000)
    assert large / small < 5, (small, large)
