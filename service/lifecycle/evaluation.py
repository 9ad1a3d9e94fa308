"""Evaluate every live challenger against the champion on shadow evidence, and act on the decisions.

Runs on the schedule (and after each retrain) under the deployment-wide `lifecycle` lock. Each decision
(`fraudlog.lifecycle.promotion`) that changes a role is a role event in the log carrying its evidence
(transactions, frauds, both ROC AUCs, the p-value and interval of DeLong's test): that is what
`/v1/models`, the dashboard and `fraudlog models` show. A "keep" is recorded when its evidence is new
enough to say something: the first time the test could run, and whenever the count of labelled frauds has
grown by `min_frauds` since the last recorded decision; recording every tick would flood the log.
"""

from __future__ import annotations

import logging

from fraudlog.domain.assignment import CHALLENGER, CHAMPION, RETIRED
from fraudlog.domain.records import Decision
from fraudlog.lifecycle.promotion import PromotionPolicy, Shadow, Verdict, decide
from fraudlog.lifecycle.roles import assign_role
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.lifecycle import lifecycle_lock, paired_scores

log = logging.getLogger("fraudlog.promotion")

_ROLE = {"promote": CHAMPION, "retire": RETIRED, "keep": CHALLENGER}


def evaluate_challengers(registry: ModelRegistry, policy: PromotionPolicy | None = None) -> list[Verdict]:
    """Decide on every live challenger and record the decisions; returns them (recorded or not).

    Raises `LockBusy` when a retrain or another evaluation holds the lifecycle lock.
    """
    policy = policy or PromotionPolicy()
    with lifecycle_lock(registry.engine):
        table = registry.assignments()
        current = table.current()
        if current.champion is None or not current.challengers:
            return []
        shadows = []
        for version in current.challengers:
            pairs = paired_scores(registry.engine, current.champion, version)
            shadows.append(Shadow(version, [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs]))
        decisions = decide(policy, current.champion, shadows)
        for decision in decisions:
            if decision.action == "keep" and not _worth_recording(registry, decision, policy):
                continue
            # A promotion re-checks that the champion it was compared with still is the champion.
            if registry.assignments().current().champion != current.champion:
                log.warning("the champion changed during evaluation; decisions are left for the next run")
                break
            assign_role(registry, decision.version, _ROLE[decision.action], Decision(
                kind="automatic", action=decision.action, reason=decision.reason, evidence=decision.evidence))
            log.info("challenger %s: %s (%s)", decision.version, decision.action, decision.reason,
                     extra={"model_version": decision.version})
            if decision.action == "promote":
                break  # the other decisions were judged against the old champion: the next run re-judges them
    return decisions


def _worth_recording(registry: ModelRegistry, decision: Verdict, policy: PromotionPolicy) -> bool:
    if decision.evidence.p_value is None:
        return False  # not enough evidence for a test: nothing new to say since the version entered
    last = registry.assignments().last_decision(decision.version)
    recorded = last.evidence if last is not None else None
    if recorded is None or recorded.p_value is None:
        return True
    return decision.evidence.frauds >= recorded.frauds + policy.min_frauds
