"""Bring your own pipeline: `fraudlog train --spec package.module:factory` or `--spec path/to/file.py:factory`.

A module name is looked up as Python would, then in the working directory, so `--spec my_pipeline:factory`
works from the directory that holds `my_pipeline.py` without PYTHONPATH. A file path imports that file
under its own name, with its directory importable (so it may import its siblings); its spec records the
file's absolute path, so a retrain or `models verify` on the same host finds it from anywhere.

The factory is any importable callable that returns an untrained River pipeline: a classifier (it has
`predict_proba_one`, and learns from labels) or an anomaly detector (`score_one`, learns from every
transaction). `fraudlog.ml.specs.custom_spec` makes its spec; lineage records the factory's import path and
the SHA-256 of the source file of its module, so a retrain or `models verify` can tell when the code that
built a version has changed since.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any

_ATTRIBUTE = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*"
_FACTORY = re.compile(rf"[A-Za-z_][\w.]*:{_ATTRIBUTE}")
_FILE_FACTORY = re.compile(rf"(?P<file>.+\.py):{_ATTRIBUTE}")


class FactoryError(ValueError):
    """The factory cannot be imported, called, or is not the code lineage recorded."""


def normalised(path: str) -> str:
    """`path` as a spec records it: a file's absolute path (a retrain may run from another directory), a module
    name as given. Refuses, in one line, what is neither form."""
    file_spec = _FILE_FACTORY.fullmatch(path)
    if file_spec:
        attribute = path.rsplit(":", 1)[1]
        return f"{Path(file_spec['file']).expanduser().resolve()}:{attribute}"
    if not _FACTORY.fullmatch(path):
        raise FactoryError(f"--spec {path!r}: expected package.module:factory or path/to/file.py:factory")
    return path


def resolve(path: str) -> Any:
    """The callable at `package.module:attribute` or `path/to/file.py:attribute`."""
    path = normalised(path)
    module_name, attribute = path.rsplit(":", 1)
    target: Any = resolve_module(path)
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise FactoryError(f"--spec {path!r}: {module_name} has no {attribute}")
    if not callable(target):
        raise FactoryError(f"--spec {path!r}: {attribute} is not callable")
    return target


def resolve_module(path: str) -> Any:
    """The module of `package.module:attribute` or `file.py:attribute`; importing it runs the user's code, so
    any error is theirs."""
    path = normalised(path)
    module_ref = path.rsplit(":", 1)[0]
    if module_ref.endswith(".py"):
        return _file_module(path, Path(module_ref))
    # Last on the path: a file in the working directory never shadows an installed package.
    _importable(os.getcwd(), first=False)
    return _imported(path, module_ref)


def _file_module(path: str, file: Path) -> Any:
    if not file.is_file():
        raise FactoryError(f"--spec {path!r}: no such file {file}")
    # First on the path: the file given is the module meant, as when Python runs a script from its directory.
    _importable(str(file.parent), first=True)
    module = _imported(path, file.stem)
    imported_from = getattr(module, "__file__", None)
    if imported_from is None or Path(imported_from).resolve() != file:
        raise FactoryError(f"--spec {path!r}: a module named {file.stem} is already imported from "
                           f"{imported_from or 'elsewhere'}; rename {file.name}")
    return module


def _importable(directory: str, *, first: bool) -> None:
    if directory not in sys.path:
        if first:
            sys.path.insert(0, directory)
        else:
            sys.path.append(directory)


def _imported(path: str, module_name: str) -> Any:
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

