"""The software a model version was trained in, and whether this process may score with it.

A version's artifact is a cloudpickle of River objects whose state is numpy arrays and whose maths calls
scipy: another minor release of river, numpy or scipy may unpickle it differently (private attributes
renamed, dtypes changed) or compute other numbers from it, and then serving no longer scores what training
calibrated and replay no longer reproduces what was served. So every version records the versions it was
built with (`current()`, in its lineage), and a worker refuses to score with a version whose recorded
river, numpy or scipy *minor* version differs from its own (`EnvironmentGuard`), unless the operator allows
it (FRAUDLOG_ALLOW_ENVIRONMENT_DRIFT): then each prediction records the difference. Patch releases are let
through: they are what security fixes arrive in, and they keep pickles and numerics by those projects' own
policies. Python and cloudpickle differences are reported (replay, verify), not refused.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import sys
import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import fraudlog

log = logging.getLogger("fraudlog.environment")

# Libraries whose minor version must match between training and scoring.
CHECKED = ("river", "numpy", "scipy")
LOCK_FILE = "requirements.lock"
# Where the lock that installed this environment lies: beside the sources (a checkout, CI), or where the
# Dockerfile puts it (the image installs the package, not the checkout).
_LOCK_PLACES = (Path(fraudlog.__file__).resolve().parent.parent / LOCK_FILE,
                Path(sys.prefix) / "share" / "fraudlog" / LOCK_FILE)

Drift = dict[str, dict[str, str | None]]  # library -> {"trained": version, "here": version}


def current() -> dict[str, str | None]:
    """This process's versions of what builds, loads and runs an artifact, and the digest of its lock file
    (None when it was not installed from one that can be found). A fresh dict: callers may change it."""
    return dict(_current())


@lru_cache(maxsize=1)
def _current() -> dict[str, str | None]:
    import cloudpickle
    import numpy
    import river
    import scipy

    return {
        "python": platform.python_version(),
        "river": str(river.__version__),
        "numpy": str(numpy.__version__),
        "scipy": str(scipy.__version__),
        "cloudpickle": str(cloudpickle.__version__),
        "fraudlog": fraudlog.__version__,
        "lock_sha256": lock_digest(),
    }


def lock_digest() -> str | None:
    for place in _LOCK_PLACES:
        if place.is_file():
            return hashlib.sha256(place.read_bytes()).hexdigest()
    return None


def differences(recorded: Mapping[str, Any], here: Mapping[str, Any] | None = None) -> Drift:
    """Every entry of this process's environment that differs from the recorded one, exactly (a version
    trained before an entry was recorded shows it as None)."""
    here = current() if here is None else here
    return {name: {"trained": recorded.get(name), "here": value} for name, value in here.items()
            if recorded.get(name) != value}


def minor_drift(recorded: Mapping[str, Any], here: Mapping[str, Any] | None = None) -> Drift:
    """The checked libraries whose recorded major.minor differs from this process's. A library the version
    did not record cannot be compared, so it is not counted (replay and verify still show it)."""
    here = current() if here is None else here
    return {name: {"trained": recorded[name], "here": here[name]} for name in CHECKED
            if recorded.get(name) is not None and _minor(str(recorded[name])) != _minor(str(here[name]))}


def describe(drift: Drift) -> str:
    """`numpy 1.26.4 then, 2.4.6 here; river ...`"""
    return "; ".join(f"{name} {v['trained']} then, {v['here']} here" for name, v in drift.items())


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


class EnvironmentMismatch(RuntimeError):
    """A version was trained with other minor versions of river, numpy or scipy than this process has."""

    def __init__(self, version: int, drift: Drift) -> None:
        super().__init__(
            f"refusing to score with model version {version}: it was trained with other minor versions than this "
            f"worker has ({describe(drift)}); install the versions it was trained with, retrain it here, or set "
            "FRAUDLOG_ALLOW_ENVIRONMENT_DRIFT=1 to score anyway (each prediction then records the difference)")
        self.version = version
        self.drift = drift

    def __reduce__(self) -> tuple[type[EnvironmentMismatch], tuple[int, Drift]]:
        # Raised in a worker's burst process and handed to the worker (`fraudlog.workers.burst`): rebuilt from its
        # fields.
        return type(self), (self.version, self.drift)


class EnvironmentGuard:
    """Decides once per version whether this process scores with it; what a prediction records about it.

    `recorded(version)` gives the environment a version's lineage recorded (version rows never change, so the
    answer is cached for the life of the process).
    """

    def __init__(self, recorded: Callable[[int], Mapping[str, Any]], *, allow_drift: bool = False) -> None:
        self._recorded = recorded
        self.allow_drift = allow_drift
        self._drift: dict[int, Drift] = {}
        self._lock = threading.Lock()

    def drift_for(self, version: int) -> Drift | None:
        """None when `version` may be scored here as trained; the difference when the operator allowed it;
        raises EnvironmentMismatch otherwise."""
        drift = self._drift.get(version)
        if drift is None:
            with self._lock:
                if version not in self._drift:
                    self._drift[version] = minor_drift(self._recorded(version))
                    if self._drift[version] and self.allow_drift:
                        log.warning("scoring with a version trained in another environment (allowed)",
                                    extra={"model_version": version, "drift": describe(self._drift[version])})
                drift = self._drift[version]
        if not drift:
            return None
        if not self.allow_drift:
            raise EnvironmentMismatch(version, drift)
        return drift
