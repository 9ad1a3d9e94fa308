"""The services a worker process's actors use, built once per process from its settings.

Built lazily, on the first message, so they are created after Dramatiq forks its worker processes (an
engine's connections must not be shared across a fork). What they are built from is set when the process
starts (`configure`); the embedded mode and the tests install ready-made services instead (`install_runtime`).
"""

from __future__ import annotations

import threading

from service.composition import WorkerServices, build_worker_services
from service.config import Settings

Runtime = WorkerServices  # the name the actors know them by

_runtime: Runtime | None = None
_settings: Settings | None = None
_lock = threading.Lock()


def configure(settings: Settings) -> None:
    """Build this process's services from `settings` when first needed."""
    global _settings
    with _lock:
        _settings = settings


def runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                if _settings is None:
                    raise RuntimeError("this process's worker services are not configured: "
                                       "start it with workers.process.start_worker_process()")
                _runtime = build_worker_services(_settings)
    return _runtime


def install_runtime(new: Runtime | None) -> Runtime | None:
    """Use `new` in this process (embedded mode and tests); returns the previous one."""
    global _runtime
    with _lock:
        previous, _runtime = _runtime, new
    return previous
