"""What the chaos run checks, as a pure function of what it observed, so that each check can be shown to fail
when its guarantee is broken (tests/unit/test_chaos_checks.py) without running the chaos."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field

from tests.support.processes import REPO

API_CHILDREN = 2  # `fraudlog serve --workers 2`: a supervisor and two children sharing the socket


@dataclass
class Ledger:
    """What the clients were told: the transactions and labels acknowledged 2xx, every answer, and violations."""

    transactions: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            self.answers[what] += 1

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Observed:
    """What the run ended with, as read from the database, the receiver and the process table."""

    logged: set[str]  # transaction ids in the log, the imported training history excepted
    labelled: set[str]
    champions: Counter[str]  # champion predictions per transaction
    outbox: dict[str, str]  # alert id -> status
    handed_over: list[str]  # every hand-over of an alert to the customer, in order, repeats included
    requests_by_key: Counter[str]
    raw_requests: int
    rejected_signatures: int
    reused_keys: int
    api_children: dict[str, int]  # API member -> live uvicorn children at the end


def judge(seen: Observed, ledger: Ledger, replay: Check) -> list[Check]:
    """Each guarantee as a check that fails when it is broken (tests/unit/test_chaos_checks.py breaks each)."""
    acked = ledger.transactions
    wrong = {tx: n for tx, n in seen.champions.items() if n != 1 or tx not in acked}
    unscored = acked - set(seen.champions)
    twice = sorted(key for key, n in Counter(seen.handed_over).items() if n > 1)
    resends = sum(n - 1 for n in seen.requests_by_key.values() if n > 1)
    first_violation = f"; first: {ledger.violations[0]}" if ledger.violations else ""
    short = {name: n for name, n in seen.api_children.items() if n != API_CHILDREN}
    return [
        Check("clients: every batch acknowledged, no valid body refused", not ledger.violations,
              f"{len(ledger.violations)} violations{first_violation}"),
        Check("every acknowledged transaction is in the log", acked <= seen.logged,
              f"{len(acked & seen.logged)} of {len(acked)}; missing e.g. {sorted(acked - seen.logged)[:3]}"),
        Check("the log holds no transaction that was not acknowledged", seen.logged <= acked,
              f"{len(seen.logged - acked)} extra; e.g. {sorted(seen.logged - acked)[:3]}"),
        Check("every acknowledged label is in the log", ledger.labels <= seen.labelled,
              f"{len(ledger.labels & seen.labelled)} of {len(ledger.labels)}"),
        Check("every transaction has exactly one champion prediction", not unscored and not wrong,
              f"{len(acked) - len(unscored)} of {len(acked)} scored; {len(wrong)} with a count other than 1"),
        Check("every alert was delivered (status sent)", all(s == "sent" for s in seen.outbox.values()),
              f"{Counter(seen.outbox.values())}"),
        Check("the customer was handed each alert of the outbox exactly once",
              not twice and set(seen.handed_over) == set(seen.outbox),
              f"{len(seen.outbox)} alerts, {len(seen.handed_over)} hand-overs, {len(twice)} twice (e.g. {twice[:3]}); "
              f"{seen.raw_requests} requests, {resends} resends absorbed by deduplication"),
        Check("the receiver saw no forged signature and no key reused for another alert",
              seen.rejected_signatures == 0 and seen.reused_keys == 0,
              f"{seen.rejected_signatures} rejected signatures, {seen.reused_keys} reused keys"),
        Check(f"each API supervisor runs {API_CHILDREN} children at the end (killed ones replaced)", not short,
              f"{seen.api_children}"),
        replay,
    ]


REPLAY_CHECK = "fraudlog replay reports no difference"


def replay_check(env: dict[str, str], cli: tuple[str, ...] = (sys.executable, "-m", "fraudlog.cli")) -> Check:
    """A replay that cannot even start fails the run: the guarantee is unchecked, which is not a pass."""
    usage = subprocess.run([*cli, "replay", "--help"], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=120)
    if usage.returncode != 0:
        last = (usage.stderr.strip() or usage.stdout.strip() or "no output").splitlines()[-1]
        return Check(REPLAY_CHECK, False, f"`replay --help` exited {usage.returncode}: {last[:200]}")
    replay = subprocess.run([*cli, "replay"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    lines = (replay.stdout.strip() or replay.stderr.strip() or "no output").splitlines()
    return Check(REPLAY_CHECK, replay.returncode == 0, f"exit {replay.returncode}: {lines[-1][:200]}")
