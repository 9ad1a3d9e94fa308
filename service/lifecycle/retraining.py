"""Retraining: a new version from the log up to now, once per new range, one at a time per deployment.

The trigger counts what the log gained since the *newest* version's cut (not the champion's: a challenger
that is never promoted must not make every tick retrain the same range again). Under the deployment-wide
`lifecycle` lock (a database lock, so two workers or two schedulers cannot both train), it re-reads the
newest cut, trains afresh on the window up to the log's last position (`fraudlog.lifecycle.versions`),
and registers the result as a **challenger**: it scores in shadow until the promotion policy
(`fraudlog.lifecycle.evaluation`) has the evidence to promote or retire it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec

from fraudlog.domain.assignment import CHALLENGER, CHAMPION
from fraudlog.domain.events import EVENT_TRANSACTION, LABEL_EVENT_TYPES
from fraudlog.domain.records import Decision, Trigger
from fraudlog.lifecycle.roles import assign_role
from fraudlog.lifecycle.triggers import inherited_window
from fraudlog.lifecycle.versions import NothingToLearn, train_version
from fraudlog.ml.specs import ModelSpec
from fraudlog.models.registry import ModelRegistry
from fraudlog.store.event_log import count_after, last_position
from fraudlog.store.lifecycle import lifecycle_lock, newest_cut

log = logging.getLogger("fraudlog.retrain")


@dataclass(frozen=True)
class RetrainResult:
    version: int
    parent_version: int
    status: str  # challenger, or champion when promoted by hand (--promote)
    reason: str
    metrics: dict[str, Any]
    artifact_sha256: str


@dataclass(frozen=True)
class Due:
    """Whether a retrain is due, and why (the trigger's reading of the log)."""

    due: bool
    reason: str
    newest_cut: int
    new_transactions: int
    new_labels: int


def retrain_due(registry: ModelRegistry, min_new_transactions: int = 1) -> Due:
    """Due when at least `min_new_transactions` transactions, and (for a supervised champion) at least one
    label, were appended after the newest version's cut."""
    with registry.engine.connect() as conn:
        cut = newest_cut(conn)
        transactions = count_after(conn, cut, EVENT_TRANSACTION)
        labels = sum(count_after(conn, cut, event_type) for event_type in LABEL_EVENT_TYPES)
    champion = registry.assignments().current().champion
    if champion is None:
        return Due(False, "there is no champion yet", cut, transactions, labels)
    if transactions < max(1, min_new_transactions):
        return Due(False, f"{transactions:,} of {min_new_transactions:,} new transactions since position {cut}",
                   cut, transactions, labels)
    if ModelSpec.from_dict(registry.get(champion).model_spec).supervised and labels == 0:
        return Due(False, f"no new labels since position {cut}", cut, transactions, labels)
    return Due(True, f"{transactions:,} new transactions and {labels:,} labels since position {cut}",
               cut, transactions, labels)


def retrain(registry: ModelRegistry, *, min_new_transactions: int = 1, through: int | None = None,
            spec: ModelSpec | None = None, promote: bool = False, git_commit: str | None = None,
            trigger: Trigger | None = None) -> RetrainResult | None:
    """Train the next version if one is due; None when not (nothing new, or the range was trained already).
    `trigger` goes into lineage (`{"kind": "schedule"}` unless given; see `fraudlog.lifecycle.triggers`).

    Raises `LockBusy` when another retrain or evaluation holds the lifecycle lock.
    """
    with lifecycle_lock(registry.engine):
        return retrain_holding_lock(registry, min_new_transactions=min_new_transactions, through=through, spec=spec,
                                    promote=promote, git_commit=git_commit, trigger=trigger)


def retrain_holding_lock(registry: ModelRegistry, *, min_new_transactions: int = 1, through: int | None = None,
                         spec: ModelSpec | None = None, promote: bool = False, git_commit: str | None = None,
                         trigger: Trigger | None = None) -> RetrainResult | None:
    """`retrain`, for a caller that holds the lifecycle lock already (the drift watch)."""
    due = retrain_due(registry, min_new_transactions)
    if not due.due:
        log.debug("no retrain: %s", due.reason)
        return None
    champion = registry.assignments().current().champion
    assert champion is not None  # retrain_due said so
    parent = registry.get(champion)
    if through is None:
        with registry.engine.connect() as conn:
            through = last_position(conn)
    cut = through
    if cut <= due.newest_cut:
        return None  # that range was trained already
    newest = registry.list()[-1]
    spec, trigger = inherited_window(registry.engine, spec or ModelSpec.from_dict(parent.model_spec),
                                     newest.trigger, trigger or {"kind": "schedule"}, cut)
    rate = float(parent.metrics.get("target_alert_rate", 0.02))
    try:
        trained = train_version(registry.engine, registry.secret_key, spec, cut=cut, parent=champion,
                                target_alert_rate=rate, git_commit=git_commit)
    except NothingToLearn as exc:
        log.info("no retrain: %s", exc)
        return None
    version = registry.versions.add(msgspec.structs.replace(trained, trigger=trigger))
    if promote:
        status, reason = CHAMPION, "promoted by hand when trained (--promote)"
        assign_role(registry, version, CHAMPION, Decision(kind="manual", action="promote", reason=reason))
    else:
        status, reason = CHALLENGER, "a new version enters as a challenger and scores in shadow"
        assign_role(registry, version, CHALLENGER, Decision(kind="automatic", action="enter", reason=reason))
    log.info("retrained", extra={"model_version": version, "parent_version": champion, "status": status})
    return RetrainResult(version, champion, status, reason, trained.metrics, trained.artifact_sha256)


def catch_up_due(registry: ModelRegistry) -> int | None:
    """After a drift-triggered version, how many new transactions make the next retrain due: as many as the
    newest version's window held since the change, so a retrain follows each time the data since the change
    has doubled, until the window is as wide as the spec's again. None when no drift line is growing.

    Right after a change the first drift-triggered version learns from few transactions of the new relation;
    one trained on twice as many ranks better, and waiting for the schedule's count leaves the weaker one
    serving (bench/drift.py, docs/drift.md)."""
    versions = registry.list()
    trigger = versions[-1].trigger if versions else None
    if trigger is None or "window_from" not in trigger:
        return None
    with registry.engine.connect() as conn:
        held = (count_after(conn, int(trigger["window_from"]) - 1, EVENT_TRANSACTION)
                - count_after(conn, versions[-1].watermark, EVENT_TRANSACTION))
    if held >= int(trigger["base_window"]):
        return None
    return max(1, held)
