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

    # Performance: a one-sided Mann-Whitney U test of the newest fraud ranks against the frauds before them.
    rank_windows: tuple[int, ...] = (30, 100, 300)  # recent frauds compared: short for a break, long for a slide
    rank_alpha: float = 1e-5  # false-alarm probability of one check, shared by the windows (Bonferroni)
    min_drop: float = 0.02  # smallest fall in ROC AUC worth a detection: no alarm on a trivial fall at large n
    reference_frauds: int = 3_000  # at most this many earlier frauds are compared with a recent window
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
    window: int = 5_000  # newest transactions a drift-triggered version trains on when a detection does not date
    # the change (a label-free signal); a performance detection's window starts at the change it dates
    catch_up: bool = True  # after a drift-triggered version, retrain each time the data since the change doubles
    parameters: DriftParameters = field(default_factory=DriftParameters)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DriftSettings:
        """FRAUDLOG_DRIFT (on/off), FRAUDLOG_DRIFT_CATCH_UP (on/off), FRAUDLOG_DRIFT_EVERY,
        FRAUDLOG_DRIFT_RETRAIN_ON (comma-separated signals),
        FRAUDLOG_DRIFT_COOLDOWN, FRAUDLOG_DRIFT_WINDOW, and FRAUDLOG_DRIFT_<PARAMETER> for each detector
        parameter (e.g. FRAUDLOG_DRIFT_RANK_ALPHA, FRAUDLOG_DRIFT_RANK_WINDOWS=30,100,300); `env` is what
        `Settings.from_env` read."""
        known = {"FRAUDLOG_DRIFT_" + name for name in _POLICY} | {
            f"FRAUDLOG_DRIFT_{f.name.upper()}" for f in fields(DriftParameters)}
        unknown_names = sorted(name for name in env if name.startswith("FRAUDLOG_DRIFT_") and name not in known)
        if unknown_names:
            # A silently ignored setting is a detector that does not do what its operator thinks: e.g. the
            # Page-Hinkley settings of release 0.2 (FRAUDLOG_DRIFT_PH_*), whose test was replaced.
            raise ValueError(f"unknown drift setting(s) {', '.join(unknown_names)}: docs/drift.md lists them")
        overrides: dict[str, Any] = {}
        for f in fields(DriftParameters):
            raw = env.get(f"FRAUDLOG_DRIFT_{f.name.upper()}")
            if raw is None:
                continue
            if str(f.type).startswith("tuple"):
                overrides[f.name] = tuple(int(_number(f.name, part, int)) for part in raw.split(",") if part.strip())
                if not overrides[f.name]:
                    raise ValueError(f"FRAUDLOG_DRIFT_{f.name.upper()}={raw!r}: expected comma-separated numbers")
            else:
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
                   catch_up=env.get("FRAUDLOG_DRIFT_CATCH_UP", "on").lower() not in ("off", "0", "false", "no"),
                   parameters=DriftParameters(**overrides))


_POLICY = ("EVERY", "RETRAIN_ON", "COOLDOWN", "WINDOW", "CATCH_UP")


def _number(name: str, raw: str, kind: type) -> float:
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ValueError(f"FRAUDLOG_DRIFT_{name.upper()}={raw!r}: expected a number") from None
    if value <= 0:
        raise ValueError(f"FRAUDLOG_DRIFT_{name.upper()}={raw!r}: must be positive")
    return float(value) if kind is float else value
