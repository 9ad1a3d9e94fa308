"""The chaos run's checks fail when their guarantee breaks (issue 15): each is fed a run's observations with
one guarantee broken on purpose. The chaos run itself (tests/chaos) restarts services; this does not."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest

from tests.chaos.chaos_run import chaos_plan
from tests.chaos.checks import (
    API_CHILDREN,
    REPLAY_CHECK,
    Check,
    Ledger,
    Observed,
    judge,
    replay_check,
)
from tests.chaos.receiver import ChaosReceiver

SECRET = b"chaos-check-secret"
REPLAY_OK = Check(REPLAY_CHECK, True, "exit 0")


def clean_run() -> tuple[Observed, Ledger]:
    ledger = Ledger(transactions={"tx-1", "tx-2", "tx-3"}, labels={"tx-1", "tx-2"})
    seen = Observed(logged={"tx-1", "tx-2", "tx-3"}, labelled={"tx-1", "tx-2"},
                    champions=Counter({"tx-1": 1, "tx-2": 1, "tx-3": 1}), outbox={"a-1": "sent", "a-2": "sent"},
                    handed_over=["a-1", "a-2"], requests_by_key=Counter({"a-1": 2, "a-2": 1}), raw_requests=3,
                    rejected_signatures=0, reused_keys=0, api_children={"api-1": API_CHILDREN, "api-2": API_CHILDREN})
    return seen, ledger


def failed(seen: Observed, ledger: Ledger, replay: Check = REPLAY_OK) -> list[str]:
    return [check.name for check in judge(seen, ledger, replay) if not check.ok]


def test_a_clean_run_passes_every_check() -> None:
    assert failed(*clean_run()) == []


BREAKS: list[tuple[Callable[[Observed], Observed], str]] = [
    (lambda s: replace(s, handed_over=[*s.handed_over, "a-1"]), "handed each alert of the outbox exactly once"),
    (lambda s: replace(s, handed_over=["a-1"]), "handed each alert of the outbox exactly once"),
    (lambda s: replace(s, reused_keys=1), "no key reused"),
    (lambda s: replace(s, rejected_signatures=1), "no forged signature"),
    (lambda s: replace(s, logged={"tx-1", "tx-2"}), "every acknowledged transaction is in the log"),
    (lambda s: replace(s, logged={*s.logged, "tx-9"}), "no transaction that was not acknowledged"),
    (lambda s: replace(s, labelled={"tx-1"}), "every acknowledged label is in the log"),
    (lambda s: replace(s, champions=Counter({"tx-1": 2, "tx-2": 1, "tx-3": 1})), "exactly one champion"),
    (lambda s: replace(s, champions=Counter({"tx-1": 1, "tx-2": 1})), "exactly one champion"),
    (lambda s: replace(s, outbox={"a-1": "sent", "a-2": "pending"}), "every alert was delivered"),
    (lambda s: replace(s, api_children={"api-1": API_CHILDREN - 1, "api-2": API_CHILDREN}), "API supervisor"),
]


@pytest.mark.parametrize(("broken", "check"), BREAKS)
def test_each_check_fails_when_its_guarantee_is_broken(broken: Callable[[Observed], Observed], check: str) -> None:
    seen, ledger = clean_run()
    failures = failed(broken(seen), ledger)
    assert len(failures) == 1 and check in failures[0], failures


def test_a_client_violation_fails_the_run() -> None:
    seen, ledger = clean_run()
    ledger.violation("/v1/transactions refused a valid body: 422")
    assert failed(seen, ledger) == ["clients: every batch acknowledged, no valid body refused"]


def test_a_replay_that_cannot_run_fails_instead_of_being_skipped() -> None:
    check = replay_check({}, cli=(sys.executable, "-c", "raise SystemExit('no replay command')"))
    assert check.name == REPLAY_CHECK and not check.ok and "exited 1" in check.detail
    assert REPLAY_CHECK in failed(*clean_run(), replay=check)


def test_the_receiver_lists_every_hand_over_and_counts_a_key_reused_for_another_alert() -> None:
    # Straight to the deduplicating step the chaos receiver extends: signing is the base receiver's business.
    receiver = ChaosReceiver(SECRET)
    try:
        first = {"alert_id": "a-1", "transaction_id": "tx-1"}
        assert receiver._deliver_once("a-1", first)[0] == 200
        assert receiver._deliver_once("a-1", dict(first))[0] == 200  # a resend: not handed over again
        assert receiver._deliver_once("a-1", {"alert_id": "a-1", "transaction_id": "tx-2"})[0] == 422
    finally:
        receiver._server.server_close()
    assert (receiver.handed_over, receiver.reused_keys) == (["a-1"], 1)


def test_every_plan_has_each_failure_and_restarts_services_only_when_allowed() -> None:
    import random

    actions = {action for _, action in chaos_plan(30, random.Random(1))}
    assert {"kill api", "kill api child", "kill relay mid-batch", "restart postgres", "restart rabbitmq"} <= actions
    quiet = {action for _, action in chaos_plan(30, random.Random(1), service_restarts=False)}
    assert {"kill api child", "kill relay mid-batch"} <= quiet and not quiet & {"restart postgres", "restart rabbitmq"}
