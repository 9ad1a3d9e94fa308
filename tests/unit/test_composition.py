"""The process structure: one reader of the environment, an API that knows no workers, no broker at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Lineage's git commit is read by training itself until it takes `Settings.git_commit` (service/ml is the
# lead's, moved separately); remove this entry then.
ENVIRONMENT_READERS = {"service/config.py"}
# Writes prometheus_client's own variable for the API processes it starts (they inherit it); reads nothing.
ENVIRONMENT_WRITERS = {"service/metrics/multiprocess.py"}


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (REPO / folder).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {str(path.relative_to(REPO)) for path in _modules("service", "workers", "migrations")
               if "os.environ" in path.read_text() or "getenv(" in path.read_text()}
    assert readers <= ENVIRONMENT_READERS | ENVIRONMENT_WRITERS


def test_the_api_imports_nothing_from_workers() -> None:
    offenders = {str(path.relative_to(REPO)): sorted(name for name in _imported(path)
                                                     if name == "workers" or name.startswith("workers."))
                 for path in _modules("service/api")}
    assert {path: names for path, names in offenders.items() if names} == {}


def test_importing_the_actors_and_the_app_sets_no_broker() -> None:
    """The broker is set when a process starts (`workers.process`), never as a side effect of an import."""
    code = ("import dramatiq.broker as b, workers.tasks, workers.wiring, service.api.app, service.cli; "
            "assert b.global_broker is None, b.global_broker")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": "", "FRAUDLOG_BROKER_URL": "amqp://guest:guest@127.0.0.1:9/"})
    assert done.returncode == 0, done.stderr
