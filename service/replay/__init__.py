"""Replay, backtest and audit: every prediction re-derived from the log and compared bit for bit.

- `replay`: walk a range of the log with constant memory, recompute each transaction's features and the
  scores of its champion and challengers, and compare with the stored predictions.
- `backtest`: score a range with one version and set its ROC AUC and alerts beside the champions'.
- `reproduce` / `lineage_summary`: the audit of one transaction's stored predictions.

All of it reads one read-only snapshot and writes nothing (`fraudlog.store.snapshot.read_only_snapshot`).
"""

from fraudlog.replay.audit import lineage_summary, reproduce
from fraudlog.replay.backtest import BacktestReport, backtest
from fraudlog.replay.check import Range, ReplayReport, replay
from fraudlog.replay.compare import Difference

__all__ = ["BacktestReport", "Difference", "Range", "ReplayReport", "backtest", "lineage_summary", "replay",
           "reproduce"]
