"""Tests running at the same time never share queues: each run, and each pytest-xdist worker of a run, has
its own queue prefix (the broker is shared with every other run on the machine)."""

from __future__ import annotations

from tests.support.services import queue_prefix


def test_xdist_workers_that_inherit_one_prefix_get_queues_of_their_own() -> None:
    inherited = {"FRAUDLOG_QUEUE_PREFIX": "fraudlog-test-run1"}
    gw0 = queue_prefix({**inherited, "PYTEST_XDIST_WORKER": "gw0"})
    gw1 = queue_prefix({**inherited, "PYTEST_XDIST_WORKER": "gw1"})
    assert gw0 != gw1 and gw0.startswith("fraudlog-test-run1") and gw1.startswith("fraudlog-test-run1")


def test_without_xdist_the_runs_prefix_is_kept_and_a_run_without_one_gets_a_fresh_one() -> None:
    assert queue_prefix({"FRAUDLOG_QUEUE_PREFIX": "chosen"}) == "chosen"
    assert queue_prefix({}) != queue_prefix({})
