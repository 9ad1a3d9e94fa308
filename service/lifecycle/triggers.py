"""Why a version was trained, as lineage records it, and the window a drift-triggered line trains on.

    {"kind": "first"}       the first version (`fraudlog train`)
    {"kind": "schedule"}    FRAUDLOG_RETRAIN_EVERY (the scheduler or the embedded schedule)
    {"kind": "manual"}      `fraudlog models retrain` / `POST /v1/models/retrain`
    {"kind": "drift", "detection": <id>, "window_from": <position>, "base_window": <n>}

After a change, transactions from before it teach the old relation (bench/drift.py measures what that
costs; docs/drift.md). So a drift-triggered version trains on the newest `FRAUDLOG_DRIFT_WINDOW`
transactions only, and records where that window starts (`window_from`) and the spec's own window
(`base_window`). Every later retrain of the line starts its window no earlier than `window_from`, so the
window grows with the data that came after the change, until it reaches `base_window` again, and the
trigger stops carrying them. The spec and the window a version trained on are in its lineage as always,
so `fraudlog models verify` reproduces it through the same `train_version`.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from fraudlog.domain.events import EVENT_TRANSACTION
from fraudlog.domain.records import Trigger
from fraudlog.ml.specs import ModelSpec
from fraudlog.store.event_log import count_after

FIRST: Trigger = {"kind": "first"}
SCHEDULE: Trigger = {"kind": "schedule"}
MANUAL: Trigger = {"kind": "manual"}


def drift_trigger(detection_id: str, window_from: int, base_window: int) -> Trigger:
    return {"kind": "drift", "detection": detection_id, "window_from": window_from, "base_window": base_window}


def with_window(spec: ModelSpec, transactions: int) -> ModelSpec:
    """`spec` training on the newest `transactions` transactions (each member of a blend likewise)."""
    params = dict(spec.params)
    if spec.name == "blend":
        for member in ("logreg", "hst"):
            params[member] = {**params[member], "window": transactions}
    else:
        params["window"] = transactions
    return ModelSpec(spec.name, params, spec.features, spec.categories)


def inherited_window(engine: Engine, spec: ModelSpec, parent_trigger: Trigger | None,
                     trigger: Trigger, cut: int) -> tuple[ModelSpec, Trigger]:
    """The spec and trigger of a retrain after the newest version (whose trigger is `parent_trigger`): after
    a drift detection, the window covers the transactions since `window_from` until it is as wide as
    `base_window`, whether or not the drift-triggered version has been promoted yet."""
    if trigger["kind"] == "drift" or parent_trigger is None or "window_from" not in parent_trigger:
        return spec, trigger
    start, base = int(parent_trigger["window_from"]), int(parent_trigger["base_window"])
    with engine.connect() as conn:
        since = count_after(conn, start - 1, EVENT_TRANSACTION) - count_after(conn, cut, EVENT_TRANSACTION)
    if since >= base:
        return with_window(spec, base), trigger
    return with_window(spec, max(1, since)), {**trigger, "window_from": start, "base_window": base}
