"""Score again transactions their model could not score: what `fraudlog rescore` runs once the model is fixed.

The failure rows of the chosen transactions are deleted, then their positions are scored as any batch is
(`Scorer`): a model that scores them now writes their predictions (and alerts), one that still raises records the
failure again. A transaction given by id that has no failure is scored too, which changes nothing when it was
already scored (predictions are keyed by transaction and version, invariant 5).

A feed consumer whose cursor already passed a failed transaction's position does not receive the predictions a
rescore writes there (the failure was final for the feed, invariant 11): they are in `GET /v1/transactions/{id}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from fraudlog.scoring.scorer import Scorer
from fraudlog.store.event_log import EventLog
from fraudlog.store.scoring_failures import clear_failures

# Positions scored per batch: a scorer's batch, as the doorbell sends them.
BATCH = 1_000


class UnknownTransaction(LookupError):
    """A transaction id the log does not hold."""


@dataclass(frozen=True)
class RescoreReport:
    transactions: int  # transactions scored again
    predictions: int  # predictions written
    failed: int  # (transaction, version) pairs that failed again, recorded again


def rescore(engine: Engine, scorer: Scorer, transaction_ids: Sequence[str] | None = None) -> RescoreReport:
    """Score again the failed transactions among `transaction_ids` (None: every failed one) and those named
    that have no failure; raises `UnknownTransaction`, before changing anything, for an id the log lacks."""
    named: list[int] = []
    if transaction_ids is not None:
        log = EventLog(engine)
        for transaction_id in transaction_ids:
            record = log.get_transaction(transaction_id)
            if record is None:
                raise UnknownTransaction(f"no transaction {transaction_id!r} in the log")
            named.append(record.position)
    positions = sorted(set(clear_failures(engine, transaction_ids)) | set(named))
    predictions = failed = 0
    for start in range(0, len(positions), BATCH):
        report = scorer.score_positions(positions[start : start + BATCH])
        predictions += report.predictions
        failed += report.failed
    return RescoreReport(len(positions), predictions, failed)
