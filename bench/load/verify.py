"""Nothing acknowledged may be missing: every transaction a receipt acknowledged is in the log, at the
position the receipt named. Read back through the store (`EventLog`), the way the service reads its log.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bench.load.http import LoadRun
from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.store.event_log import EventLog


def last_position(engine: sa.Engine) -> int:
    """Where the log ends now: a load run's rows all come after it (phases run one after another)."""
    return EventLog(engine).last_position()


def transactions_in_log(engine: sa.Engine) -> int:
    return EventLog(engine).count(EVENT_TRANSACTION)


def verify_acknowledged(engine: sa.Engine, run: LoadRun, after_position: int) -> dict[str, Any]:
    """Compare `run`'s receipts with the transactions the log holds after `after_position`.

    Also counts the group commits (a group commit stamps all its rows with one recorded_at), and how many
    rows of failed requests were stored anyway (allowed: the client cannot know). Sets `run.verification`.
    """
    stored: dict[str, int] = {}
    commits: set[Any] = set()
    walk = EventLog(engine).walk(after_position + 1, event_types=[EVENT_TRANSACTION], chunk=5_000)
    for record in (record for chunk in walk for record in chunk):
        stored[record.transaction_id or ""] = record.position
        commits.add(record.recorded_at)
    acked = run.acked
    missing = [tx for tx in acked if tx not in stored]
    moved = [tx for tx, pos in acked.items() if tx in stored and stored[tx] != pos]
    unknown_stored = sum(1 for tx in set(run.unknown) if tx in stored)
    result = {"acknowledged": run.tx_acked, "distinct_acknowledged": len(acked), "found": len(acked) - len(missing),
              "missing": len(missing), "missing_sample": missing[:5], "position_mismatch": len(moved),
              "failed_requests_rows_stored": unknown_stored, "commits": len(commits),
              "requests_per_commit": round(run.requests_ok / len(commits), 2) if commits else None,
              "ok": not missing and not moved and run.tx_acked == len(acked)}
    run.verification = result
    return result
