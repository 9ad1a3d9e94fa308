"""Bring your own pipeline: `fraudlog train --spec package.module:factory`.

The factory is any importable callable that returns an untrained River pipeline: a classifier (it has
`predict_proba_one`, and learns from labels) or an anomaly detector (`score_one`, learns from every
transaction). `service.ml.specs.custom_spec` makes its spec; lineage records the factory's import path and
the SHA-256 of the source file of its module, so a retrain or `models verify` can tell when the code that
built a version has changed since.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
from typing import Any

_FACTORY = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class FactoryError(ValueError):
    """The factory cannot be imported, called, or is not the code lineage recorded."""


def resolve(path: str) -> Any:
    """The callable at `package.module:attribute`."""
    if not _FACTORY.fullmatch(path):
        raise FactoryError(f"--spec {path!r}: expected package.module:factory")
    module_name, attribute = path.split(":", 1)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise FactoryError(f"--spec {path!r}: cannot import {module_name} ({exc})") from None
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise FactoryError(f"--spec {path!r}: {module_name} has no {attribute}")
    if not callable(target):
        raise FactoryError(f"--spec {path!r}: {attribute} is not callable")
    return target


def source_sha256(path: str) -> str:
    """SHA-256 of the source file of the factory's module (the code that decides what the model is)."""
    module = importlib.import_module(path.split(":", 1)[0])
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
    model = factory()
    if not (is_classifier(model) or hasattr(model, "score_one")):
        raise FactoryError(f"--spec {path!r}: the factory returned {type(model).__name__}, which has neither "
                           "predict_proba_one nor score_one")
    return model

