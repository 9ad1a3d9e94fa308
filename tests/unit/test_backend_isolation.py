"""The backends stay in their modules: `service/store/postgres.py` and `service/store/sqlite.py` implement the
store's protocols (`service/store/recorders.py`), `service/store/backend.py` picks one, and no other code learns
which backend runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "service" / "store"
BACKEND_MODULES = {"fraudlog.store.postgres", "fraudlog.store.sqlite"}
# The chooser may read the dialect's name (to look the backend up); the backends are what the name is about. The
# settings read the URL's scheme to choose their own defaults (the embedded mode), not how to talk to the database.
MAY_NAME_DIALECTS = {STORE / "postgres.py", STORE / "sqlite.py", STORE / "backend.py", ROOT / "service" / "config.py"}
# What a branch on the backend looks like: a dialect's name read, a helper that asks, a database driver imported.
BACKEND_CHECKS = re.compile(r"dialect\.name|get_backend_name|\bis_postgres\b|\bis_sqlite\b")
DRIVERS = {"psycopg", "sqlite3"}


def application_modules() -> list[Path]:
    return sorted(path for folder in ("service", "workers") for path in (ROOT / folder).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def outside_store(path: Path) -> bool:
    return STORE not in path.parents


def test_no_module_outside_the_store_imports_a_backend_or_the_chooser() -> None:
    offenders = {str(path.relative_to(ROOT)): sorted(imported & (BACKEND_MODULES | {"fraudlog.store.backend"}))
                 for path in application_modules() if outside_store(path)
                 for imported in [imported_modules(path)] if imported & (BACKEND_MODULES | {"fraudlog.store.backend"})}
    assert not offenders, offenders


def test_store_modules_reach_the_backends_only_through_the_chooser() -> None:
    chooser = STORE / "backend.py"
    offenders = {str(path.relative_to(ROOT)): sorted(imported & BACKEND_MODULES)
                 for path in STORE.glob("*.py") if path != chooser
                 for imported in [imported_modules(path)] if imported & BACKEND_MODULES}
    assert not offenders, offenders


def test_only_the_backends_and_the_chooser_ask_which_database_runs() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in application_modules() if path not in MAY_NAME_DIALECTS
                 for number, line in enumerate(path.read_text().splitlines(), 1) if BACKEND_CHECKS.search(line)]
    assert not offenders, offenders


def test_database_drivers_are_imported_only_by_the_backends_and_the_error_mapping() -> None:
    allowed = {STORE / "postgres.py", STORE / "sqlite.py", STORE / "errors.py"}
    offenders = {str(path.relative_to(ROOT)): sorted(imported & DRIVERS)
                 for path in application_modules() if path not in allowed
                 for imported in [{name.split(".")[0] for name in imported_modules(path)}] if imported & DRIVERS}
    assert not offenders, offenders
