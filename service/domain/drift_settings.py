"""The drift detectors' parameters and the drift loop's policy, from the environment (`Settings.drift`).

Light on purpose (no River import): `fraudlog.config` reads it in every process. docs/drift.md gives the
measurement behind each default (bench/drift.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class DriftParameters:
    """What the detectors of `fraudlog.monitoring.drift` are built with."""

    # Performance: Page-Hinkley (mode "down") on the ranks of labelled frauds.
    ph_delta: float = 0.1  # tolerance per fraud: a fall in ROC AUC well below it goes unnoticed
    ph_threshold: float = 3.0  # accumulated fall (in rank units) needed to fire
    ph_alpha: float = 0.999  # forgetting factor of the running mean and sums
    min_frauds: int = 30  # labelled frauds seen since (re)arming before it may fire
    rank_reference: int = 2_000  # newest labelled legitimate scores a fraud is ranked among
    min_reference: int = 500  # legitimate scores needed before ranks mean anything
    # Scores and features: PSI of the newest window against the reference.
    psi_threshold: float = 0.25  # "significant shift" (Siddiqi, Credit Risk Scorecards, 2006)
    psi_window: int = 5_000
    psi_bins: int = 10
    check_every: int = 1_000
    confirmations: int = 3


@dataclass(frozen=True, slots=True)
class DriftSettings:
    """The drift loop: whether it runs, how often, which signals retrain, and on what window."""

    enabled: bool = True
    every_seconds: float = 10.0
    retrain_on: tuple[str, ...] = ("performance",)  # label-free signals are recorded, not acted on
    cooldown: int = 5_000  # log positions after a drift-triggered version's cut before another may train
    window: int = 5_000  # newest transactions a drift-triggered version trains on (then the window grows)
    parameters: DriftParameters = field(default_factory=DriftParameters)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DriftSettings:
        """FRAUDLOG_DRIFT (on/off), FRAUDLOG_DRIFT_EVERY, FRAUDLOG_DRIFT_RETRAIN_ON (comma-separated signals),
        FRAUDLOG_DRIFT_COOLDOWN, FRAUDLOG_DRIFT_WINDOW, and FRAUDLOG_DRIFT_<PARAMETER> for each detector
        parameter (e.g. FRAUDLOG_DRIFT_PH_THRESHOLD); `env` is what `Settings.from_env` read."""
        overrides: dict[str, Any] = {}
        for f in fields(DriftParameters):
            raw = env.get(f"FRAUDLOG_DRIFT_{f.name.upper()}")
            if raw is not None:
                overrides[f.name] = _number(f.name, raw, int if f.type in ("int", int) else float)
        retrain_on = tuple(s.strip() for s in env.get("FRAUDLOG_DRIFT_RETRAIN_ON", "performance").split(",")
                           if s.strip())
        unknown = set(retrain_on) - {"performance", "score", "features"}
        if unknown:
            raise ValueError(f"FRAUDLOG_DRIFT_RETRAIN_ON: unknown signal(s) {sorted(unknown)}")
        return cls(enabled=env.get("FRAUDLOG_DRIFT", "on").lower() not in ("off", "0", "false", "no"),
                   every_seconds=_number("every", env.get("FRAUDLOG_DRIFT_EVERY", "10"), float),
                   retrain_on=retrain_on,
                   cooldown=int(_number("cooldown", env.get("FRAUDLOG_DRIFT_COOLDOWN", "5000"), int)),
                   window=int(_number("window", env.get("FRAUDLOG_DRIFT_WINDOW", "5000"), int)),
                   parameters=DriftParameters(**overrides))


def _number(name: str, raw: str, kind: type) -> float:
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"FRAUDLOG_DRIFT_{name.upper()}={raw!r}: expected a number") from None
    if value <= 0:
        raise ValueError(f"FRAUDLOG_DRIFT_{name.upper()}={raw!r}: must be positive")
    return float(value) if kind is float else value
