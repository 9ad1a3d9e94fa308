"""Bring your own pipeline: `fraudlog train --spec package.module:factory`.

The factory is any importable callable that returns an untrained River pipeline: a classifier (it has
`predict_proba_one`, and learns from labels) or an anomaly detector (`score_one`, learns from every
transaction). `service.ml.specs.custom_spec` makes its spec; lineage records the factory's import path and
the SHA-256 of the source file of its module, so a retrain or `models verify` can tell when the code that
built a version has changed since.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import re
import sys
from typing import Any

_FACTORY = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class FactoryError(ValueError):
    """The factory cannot be imported, called, or is not the code lineage recorded."""


def resolve(path: str) -> Any:
    """The callable at `package.module:attribute`."""
    if not _FACTORY.fullmatch(path):
        raise FactoryError(f"--spec {path!r}: expected package.module:factory")
    module_name, attribute = path.split(":", 1)
    target: Any = resolve_module(path)
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise FactoryError(f"--spec {path!r}: {module_name} has no {attribute}")
    if not callable(target):
        raise FactoryError(f"--spec {path!r}: {attribute} is not callable")
    return target


def resolve_module(path: str) -> Any:
    """The module of `package.module:attribute`; importing it runs the user's code, so any error is theirs."""
    module_name = path.split(":", 1)[0]
    try:
        return importlib.import_module(module_name)
    except Exception as exc:  # an ImportError, or whatever the module's own code raised
        raise FactoryError(f"--spec {path!r}: cannot import {module_name} ({type(exc).__name__}: {exc})") from None


def source_sha256(path: str) -> str:
    """SHA-256 of the source file of the factory's module (the code that decides what the model is)."""
    module = resolve_module(path)
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError) as exc:
        raise FactoryError(f"--spec {path!r}: the module's source cannot be read ({exc})") from None
    return hashlib.sha256(source.encode()).hexdigest()


def is_classifier(model: Any) -> bool:
    return hasattr(model, "predict_proba_one")


def build_from_factory(path: str, expected_sha256: str) -> Any:
    """A fresh pipeline from the factory, refused when its module's source is not the one recorded."""
    factory = resolve(path)
    actual = source_sha256(path)
    if expected_sha256 and actual != expected_sha256:
        raise FactoryError(f"--spec {path!r}: the factory's source changed since it was recorded "
                           f"(SHA-256 {expected_sha256[:12]} then, {actual[:12]} now)")
    # The factory's prints go to stderr: stdout may be a report that must stay valid JSON (`verify --json`).
    try:
        with contextlib.redirect_stdout(sys.stderr):
            model = factory()
    except Exception as exc:  # the user's code: one line for the CLI, not a traceback (issue 27 #13)
        raise FactoryError(f"--spec {path!r}: the factory raised {type(exc).__name__}: {exc}") from None
    if not (is_classifier(model) or hasattr(model, "score_one")):
        raise FactoryError(f"--spec {path!r}: the factory returned {type(model).__name__}, which has neither "
                           "predict_proba_one nor score_one")
    return model

