"""Features are a pure function of the log (invariant 3, docs/INVARIANTS.md): each definition, its window edges, and
bit-for-bit equality however a log is cut into batches."""

from __future__ import annotations

import math
import random
import sys
from datetime import UTC, datetime, timedelta, timezone
from types import FrameType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudlog.domain import card_walk as card_walk_module
from fraudlog.domain import features as features_module
from fraudlog.domain.events import TransactionIn, canonical_transaction
from fraudlog.domain.features import (
    CARD_FEATURES,
    WINDOW,
    HistoryQuery,
    TxView,
    batch_features,
    compute_features,
    history_query,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def tx(
    position: int,
    card: str | None = "card-1",
    at: timedelta = timedelta(0),
    amount: float = 10.0,
    attributes: dict[str, float] | None = None,
) -> TxView:
    return TxView(position, f"tx-{position}", card, T0 + at, amount, attributes or {})


def bits(features: dict[str, float]) -> dict[str, str]:
    """Float values by their exact bits: -0.0 and 0.0 differ, as they would in a stored prediction."""
    return {name: value.hex() for name, value in features.items()}


def test_transaction_without_card_has_no_card_features_at_all() -> None:
    history = [tx(1, card=None, at=-timedelta(minutes=5)), tx(2, card="card-1", at=-timedelta(minutes=1))]
    features = compute_features(tx(3, card=None), history)
    assert not any(name.startswith("card_") for name in features)
    assert set(features) == {"amount", "hour_of_day", "hour_sin", "hour_cos"}


def test_card_features_without_history_have_documented_defaults() -> None:
    features = compute_features(tx(1, amount=42.0), [])
    assert {name: features[name] for name in CARD_FEATURES} == {
        "card_count_1h": 0.0,
        "card_count_24h": 0.0,
        "card_amount_sum_24h": 0.0,
        "card_amount_mean_24h": 0.0,
        "card_amount_ratio_24h": 1.0,
        "card_seconds_since_last": 86_400.0,
    }


def test_card_features_summarise_the_cards_previous_day() -> None:
    history = [
        tx(1, at=-timedelta(hours=20), amount=10.0),
        tx(2, at=-timedelta(minutes=30), amount=20.0),
        tx(3, at=-timedelta(seconds=90), amount=30.0),
    ]
    features = compute_features(tx(4, amount=100.0), history)
    assert features["card_count_1h"] == 2.0
    assert features["card_count_24h"] == 3.0
    assert features["card_amount_sum_24h"] == 60.0
    assert features["card_amount_mean_24h"] == 20.0
    assert features["card_amount_ratio_24h"] == 5.0
    assert features["card_seconds_since_last"] == 90.0


def test_history_of_other_cards_and_of_later_positions_is_ignored() -> None:
    history = [
        tx(1, card="card-2", at=-timedelta(minutes=1)),
        tx(2, card=None, at=-timedelta(minutes=1)),
        tx(5, card="card-1", at=-timedelta(minutes=1)),  # appended after the target: not its history
        tx(3, card="card-1", at=-timedelta(minutes=2)),  # the target itself is never its own history
    ]
    assert compute_features(tx(3), history)["card_count_24h"] == 0.0


def test_window_is_open_at_its_start_and_closed_at_its_end() -> None:
    edge = [tx(1, at=-WINDOW)]
    assert compute_features(tx(9), edge)["card_count_24h"] == 0.0
    just_inside = [tx(1, at=-WINDOW + timedelta(microseconds=1))]
    assert compute_features(tx(9), just_inside)["card_count_24h"] == 1.0
    same_instant = [tx(1, at=timedelta(0))]
    assert compute_features(tx(9), same_instant)["card_seconds_since_last"] == 0.0
    future = [tx(1, at=timedelta(microseconds=1))]
    assert compute_features(tx(9), future)["card_count_24h"] == 0.0


def test_one_hour_count_excludes_an_event_exactly_one_hour_old() -> None:
    history = [tx(1, at=-timedelta(hours=1)), tx(2, at=-timedelta(hours=1) + timedelta(microseconds=1))]
    features = compute_features(tx(3), history)
    assert (features["card_count_1h"], features["card_count_24h"]) == (1.0, 2.0)


def test_late_event_affects_only_events_appended_after_it() -> None:
    late = tx(2, at=-timedelta(minutes=10), amount=500.0)  # happened before tx 1, appended after it
    assert compute_features(tx(1), [late])["card_count_24h"] == 0.0
    assert compute_features(tx(3), [late])["card_count_24h"] == 1.0


def test_a_history_that_repeats_an_event_counts_it_once() -> None:
    earlier = tx(1, at=-timedelta(minutes=3), amount=7.0)
    features = compute_features(tx(2), [earlier, earlier])
    assert (features["card_count_24h"], features["card_amount_sum_24h"]) == (1.0, 7.0)


def test_ratio_denominator_is_floored_at_one_so_cent_habits_stay_finite() -> None:
    history = [tx(1, at=-timedelta(hours=2), amount=0.0), tx(2, at=-timedelta(hours=1), amount=0.5)]
    features = compute_features(tx(3, amount=30.0), history)
    assert features["card_amount_mean_24h"] == 0.25
    assert features["card_amount_ratio_24h"] == 30.0


def test_attributes_are_prefixed_so_they_never_shadow_a_feature() -> None:
    features = compute_features(tx(1, amount=3.0, attributes={"amount": 99.0, "V1": -1.5}), [])
    assert features["amount"] == 3.0
    assert features["attr_amount"] == 99.0
    assert features["attr_V1"] == -1.5


def test_hour_of_day_is_fractional_utc_whatever_the_offset() -> None:
    local = datetime(2026, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=2)))
    features = compute_features(TxView(1, "tx-1", None, local, 1.0, {}), [])
    assert features["hour_of_day"] == 11.5
    assert features["hour_sin"] == pytest.approx(math.sin(math.tau * 11.5 / 24))
    assert features["hour_cos"] == pytest.approx(math.cos(math.tau * 11.5 / 24))


def test_midnight_and_a_minute_before_are_close_on_the_hour_circle() -> None:
    midnight = compute_features(TxView(1, "a", None, datetime(2026, 3, 2, tzinfo=UTC), 1.0, {}), [])
    before = compute_features(TxView(2, "b", None, datetime(2026, 3, 1, 23, 59, tzinfo=UTC), 1.0, {}), [])
    assert midnight["hour_of_day"] == 0.0
    assert before["hour_of_day"] > 23.98
    assert math.dist((midnight["hour_sin"], midnight["hour_cos"]), (before["hour_sin"], before["hour_cos"])) < 0.01


def test_naive_event_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TxView(1, "tx-1", None, datetime(2026, 3, 1, 12, 0), 1.0, {})


def test_from_payload_reads_the_canonical_stored_form() -> None:
    posted = TransactionIn(
        transaction_id="tx-9",
        card_id="card-7",
        event_time=datetime(2026, 3, 1, 14, 15, tzinfo=timezone(timedelta(hours=2))),
        amount=12,
        attributes={"V2": 2.0, "V1": 1.0},
    )
    view = TxView.from_payload(17, canonical_transaction(posted))
    assert view == TxView(17, "tx-9", "card-7", datetime(2026, 3, 1, 12, 15, tzinfo=UTC), 12.0, {"V1": 1.0, "V2": 2.0})


def test_history_query_covers_every_carded_target() -> None:
    targets = [tx(5, card="a", at=timedelta(hours=3)), tx(9, card="b"), tx(7, card=None, at=-timedelta(days=9))]
    assert history_query(targets) == HistoryQuery(
        card_ids=frozenset({"a", "b"}), since=T0 - WINDOW, before_position=9
    )


def test_history_query_is_none_when_no_target_has_a_card() -> None:
    assert history_query([tx(1, card=None), tx(2, card=None)]) is None


def test_batch_targets_count_as_history_of_later_targets() -> None:
    first, second = tx(1, at=-timedelta(minutes=1), amount=4.0), tx(2, amount=8.0)
    result = batch_features([second, first], [])
    assert result[2]["card_count_1h"] == 1.0
    assert result[1]["card_count_1h"] == 0.0


# -- the property: batching, order and retries never change a feature -----------------------------------

_HOUR_US = 3_600 * 10**6
_offsets = st.one_of(
    st.integers(min_value=0, max_value=72 * _HOUR_US),
    # whole hours, so that events land exactly on the 1-hour and 24-hour window edges
    st.integers(min_value=0, max_value=72).map(lambda hours: hours * _HOUR_US),
)
_amounts = st.one_of(
    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 0.1, 0.2, 0.3, 1e-300, 123.45]),
)
_logs = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", None]), _offsets, _amounts), min_size=1, max_size=40
)


def _fetch(log: list[TxView], query: HistoryQuery | None) -> list[TxView]:
    """What the store returns for a history query."""
    if query is None:
        return []
    return [
        e for e in log
        if e.card_id in query.card_ids and e.event_time > query.since and e.position < query.before_position
    ]


@settings(max_examples=300, deadline=None)
@given(rows=_logs, data=st.data())
def test_any_batching_gives_bit_identical_features_to_one_at_a_time(
    rows: list[tuple[str | None, int, float]], data: st.DataObject
) -> None:
    # Positions have gaps and event times are not in position order: late events included.
    log = [
        TxView(3 * i + 1, f"tx-{i}", card, T0 + timedelta(microseconds=offset), amount, {"V1": float(i)})
        for i, (card, offset, amount) in enumerate(rows)
    ]
    expected = {e.position: bits(compute_features(e, log[:i])) for i, e in enumerate(log)}

    order = data.draw(st.permutations(log), label="processing order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(log) - 1))), label="cuts"))
    shuffler = random.Random(data.draw(st.integers(0, 2**32), label="shuffle seed"))
    actual: dict[int, dict[str, str]] = {}
    for lo, hi in zip([0, *cuts], [*cuts, len(order)], strict=True):
        batch = order[lo:hi]
        candidates = _fetch(log, history_query(batch))
        shuffler.shuffle(candidates)
        # a retried doorbell: the same batch again, with the candidates in another order
        for retry in range(2):
            for position, features in batch_features(batch, candidates[retry:] + candidates[:retry]).items():
                actual.setdefault(position, bits(features))
                assert bits(features) == actual[position]
    assert actual == expected


def test_amounts_too_large_to_sum_saturate_instead_of_failing() -> None:
    history = [tx(1, at=-timedelta(hours=2), amount=1e308), tx(2, at=-timedelta(hours=1), amount=1e308)]
    features = compute_features(tx(3, amount=1.0), history)
    assert all(math.isfinite(value) for value in features.values())
    assert features["card_amount_sum_24h"] == sys.float_info.max


# -- cost: one busy card's batch is n log n, not quadratic (issue 15, item 10) ----------------------------

_one_card_amounts = st.one_of(
    _amounts,
    # near the largest float: sums that saturate, and ties at the overflow boundary
    st.sampled_from([sys.float_info.max, sys.float_info.max / 2, math.ulp(sys.float_info.max) / 2, 5e-324]),
)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 30 * _HOUR_US), _one_card_amounts), min_size=1, max_size=120))
def test_one_busy_cards_batch_agrees_bit_for_bit_with_one_at_a_time(rows: list[tuple[int, float]]) -> None:
    log = [TxView(2 * i + 1, f"tx-{i}", "a", T0 + timedelta(microseconds=offset), amount, {})
           for i, (offset, amount) in enumerate(rows)]
    expected = {e.position: bits(compute_features(e, log[:i])) for i, e in enumerate(log)}
    assert {p: bits(f) for p, f in batch_features(log, []).items()} == expected


def _lines_executed_by_batch_features(history: int) -> int:
    """Python lines run inside the feature modules to compute a batch of `history` events of one card, all
    within one window of each other: a count of operations, not a time, so it cannot be flaky."""
    log = [TxView(i, f"tx-{i}", "busy", T0 + timedelta(seconds=10 * i), float(i % 97), {})
           for i in range(1, history + 1)]
    watched = {features_module.__file__, card_walk_module.__file__}
    lines = 0

    def trace(frame: FrameType, event: str, arg: object) -> object:
        nonlocal lines
        if frame.f_code.co_filename not in watched:
            return None
        if event == "line":
            lines += 1
        return trace

    sys.settrace(trace)
    try:
        batch_features(log, [])
    finally:
        sys.settrace(None)
    return lines


def test_a_busy_cards_batch_costs_n_log_n_not_n_squared() -> None:
    # Four times the history: n log n costs about 5x the operations, a quadratic walk 16x.
    small, large = _lines_executed_by_batch_features(1_000), _lines_executed_by_batch_features(4_000)
    assert large / small < 8, (small, large)
