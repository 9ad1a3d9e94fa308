"""The promotion policy: which challenger, if any, replaces the champion, and which challengers retire.

Pure: it sees paired scores, never the database. A new version enters as a challenger and scores every
transaction in shadow beside the champion; once labels have arrived for enough of the transactions both
scored, DeLong's paired test (`fraudlog.ml.evidence`) says whether the challenger ranks frauds better.

- **Promote** a challenger only with at least `min_frauds` labelled frauds (and `min_legitimate`
  legitimate transactions) among the transactions both scored, and a one-sided p-value below
  `1 - confidence` for "the challenger's ROC AUC is higher". Of several such challengers, the one with the
  highest AUC wins; the others stay challengers and are compared with the new champion from then on.
- **Retire** a challenger that the same test shows to be worse at the same confidence, and, when more
  than `max_challengers` are live (each one costs scoring time), the one with the lowest AUC on its
  evidence (the oldest when none has any).
- Otherwise **keep**: the challenger goes on scoring in shadow until the evidence decides.

The same rule serves every family: it compares scores by rank, so it needs no threshold and no calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from fraudlog.domain.records import Evidence
from fraudlog.ml.evidence import PairedComparison, delong_test
from fraudlog.ml.metrics import roc_auc

Action = Literal["promote", "keep", "retire"]


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    min_frauds: int = 30
    min_legitimate: int = 100
    confidence: float = 0.95
    max_challengers: int = 3

    def as_dict(self) -> dict[str, int | float]:
        return {"min_frauds": self.min_frauds, "min_legitimate": self.min_legitimate,
                "confidence": self.confidence, "max_challengers": self.max_challengers}


@dataclass(frozen=True, slots=True)
class Shadow:
    """One challenger's evidence: its scores and the champion's of the same labelled transactions."""

    version: int
    champion_scores: Sequence[float]
    challenger_scores: Sequence[float]
    labels: Sequence[bool]

    @property
    def frauds(self) -> int:
        return sum(1 for y in self.labels if y)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's verdict on one challenger, with the evidence it rests on."""

    version: int
    action: Action
    reason: str
    evidence: Evidence


def decide(policy: PromotionPolicy, champion: int, shadows: Sequence[Shadow]) -> list[Verdict]:
    """One decision per challenger: at most one promotion (listed first), retirements, and keeps."""
    tested: dict[int, PairedComparison | None] = {s.version: _compare(policy, s) for s in shadows}
    decisions: dict[int, Verdict] = {}
    better = [s for s in shadows if _significant(policy, tested[s.version], better=True)]
    if better:
        best = max(better, key=lambda s: (_auc(tested[s.version]), s.version))
        decisions[best.version] = _decision(policy, champion, best, tested[best.version], "promote",
                                            "ROC AUC higher than the champion's on the same transactions")
    for shadow in shadows:
        if shadow.version in decisions:
            continue
        comparison = tested[shadow.version]
        if _significant(policy, comparison, better=False):
            decisions[shadow.version] = _decision(policy, champion, shadow, comparison, "retire",
                                                  "ROC AUC lower than the champion's on the same transactions")
    live = [s for s in shadows if s.version not in decisions]
    while len(live) > policy.max_challengers:
        worst = min(live, key=lambda s: (_evidence_auc(s), s.version))
        decisions[worst.version] = _decision(policy, champion, worst, tested[worst.version], "retire",
                                             f"more than {policy.max_challengers} challengers: the lowest ROC AUC")
        live.remove(worst)
    for shadow in live:
        comparison = tested[shadow.version]
        reason = (f"not enough evidence yet: {shadow.frauds} of {policy.min_frauds} labelled frauds"
                  if comparison is None else "no significant difference yet")
        decisions[shadow.version] = _decision(policy, champion, shadow, comparison, "keep", reason)
    order = {"promote": 0, "retire": 1, "keep": 2}
    return sorted(decisions.values(), key=lambda d: (order[d.action], d.version))


def _compare(policy: PromotionPolicy, shadow: Shadow) -> PairedComparison | None:
    frauds = shadow.frauds
    if frauds < policy.min_frauds or len(shadow.labels) - frauds < policy.min_legitimate:
        return None
    return delong_test(shadow.champion_scores, shadow.challenger_scores, shadow.labels)


def _significant(policy: PromotionPolicy, comparison: PairedComparison | None, *, better: bool) -> bool:
    if comparison is None:
        return False
    alpha = 1.0 - policy.confidence
    return comparison.p_value < alpha if better else comparison.p_value > 1.0 - alpha


def _auc(comparison: PairedComparison | None) -> float:
    return -1.0 if comparison is None else comparison.candidate_auc


def _evidence_auc(shadow: Shadow) -> float:
    """The challenger's AUC on whatever labelled evidence it has; -1 with none (then the oldest goes)."""
    value = roc_auc(list(shadow.challenger_scores), list(shadow.labels)) if shadow.labels else None
    return -1.0 if value is None else value


def _decision(policy: PromotionPolicy, champion: int, shadow: Shadow, comparison: PairedComparison | None,
              action: Action, reason: str) -> Verdict:
    evidence = Evidence(champion=champion, transactions=len(shadow.labels), frauds=shadow.frauds,
                        policy=policy.as_dict())
    if comparison is not None:
        evidence = msgspec.structs.replace(
            evidence, champion_auc=comparison.incumbent_auc, challenger_auc=comparison.candidate_auc,
            p_value=comparison.p_value, difference_interval_95=list(comparison.interval), test="DeLong, one-sided")
    return Verdict(shadow.version, action, reason, evidence)
