"""The wheel installs the one import package `fraudlog` and nothing else: built as the Dockerfile builds it (a
copy of pyproject.toml, README.md and the three folders, `pip wheel --no-deps`), installed with `--no-deps` into a
fresh virtualenv, then looked at from that virtualenv's Python. tests/unit/test_packaging.py checks the
package list in pyproject.toml; this checks what setuptools makes of it.

The build runs with pip's build isolation, as `pip install -e .` does: pip installs the build backend
(`[build-system] requires`) from the package index it is configured with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"service": "fraudlog", "workers": "fraudlog/workers", "migrations": "fraudlog/migrations"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the virtualenv it is installed in)."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"  # a copy: setuptools writes build/ and *.egg-info where it builds
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(base / "dist"),
         str(source)], cwd=base)
    [wheel] = (base / "dist").glob("fraudlog-*.whl")
    venv = base / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=base)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
        cwd=base)
    return wheel, venv


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def expected_files() -> set[str]:
    """Each module of the three folders, and the package data, where the wheel must hold it."""
    files = set()
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                files.add(f"{package}/{path.relative_to(ROOT / folder).as_posix()}")
    files |= {f"fraudlog/api/static/{path.name}" for path in (ROOT / "service" / "api" / "static").iterdir()}
    return files | {"fraudlog/py.typed", "fraudlog/migrations/alembic.ini", "fraudlog/migrations/script.py.mako"}


def test_the_wheel_holds_fraudlog_alone(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    [dist_info] = {name.split("/")[0] for name in names if name.split("/")[0].endswith(".dist-info")}
    assert {name.split("/")[0] for name in names} == {"fraudlog", dist_info}  # no service/, workers/, migrations/
    assert {name for name in names if not name.startswith(dist_info)} == expected_files()
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "fraudlog = fraudlog.cli:main" in entry_points


# Run by the virtualenv's Python, isolated (-I: no current directory, no PYTHON* variables on the path). The
# dependencies are not installed, so it finds the packages without importing what they import.
PROBE = """
import importlib.util, json, sys
found = {}
for name in ("fraudlog", "fraudlog.workers", "fraudlog.migrations", "fraudlog.migrations.versions",
             "fraudlog.api", "fraudlog.cli"):
    spec = importlib.util.find_spec(name)
    found[name] = spec.origin if spec else None
missing = []
for name in ("service", "workers", "migrations"):
    try:
        __import__(name)
    except ModuleNotFoundError:
        missing.append(name)
print(json.dumps({"found": found, "missing": missing, "prefix": sys.prefix}))
"""


def test_the_installed_package_is_fraudlog_and_service_is_not_importable(built: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    _, venv = built
    probe = json.loads(run([str(venv / "bin" / "python"), "-I", "-c", PROBE], cwd=tmp_path))
    site = next((venv / "lib").glob("python3.*/site-packages"))
    assert probe["found"] == {
        "fraudlog": str(site / "fraudlog" / "__init__.py"),
        "fraudlog.workers": str(site / "fraudlog" / "workers" / "__init__.py"),
        "fraudlog.migrations": str(site / "fraudlog" / "migrations" / "__init__.py"),
        "fraudlog.migrations.versions": str(site / "fraudlog" / "migrations" / "versions" / "__init__.py"),
        "fraudlog.api": str(site / "fraudlog" / "api" / "__init__.py"),
        "fraudlog.cli": str(site / "fraudlog" / "cli" / "__init__.py"),
    }
    assert probe["missing"] == ["service", "workers", "migrations"]
    assert (venv / "bin" / "fraudlog").is_file()


# Run by this Python with the wheel's install first on the path: the dependencies are this environment's, the
# package is the wheel's. alembic finds its scripts in the installed fraudlog.migrations.
MIGRATE = """
import json, sys
from sqlalchemy import create_engine
import fraudlog
from fraudlog.store.migrate import MIGRATIONS_DIR, current_revision, upgrade
from fraudlog.api.dashboard import STATIC_DIR
engine = create_engine("sqlite:///" + sys.argv[1])
upgrade(engine)
print(json.dumps({"package": fraudlog.__file__, "migrations": str(MIGRATIONS_DIR), "static": str(STATIC_DIR),
                  "revision": current_revision(engine)}))
"""


def test_the_installed_package_migrates_a_database_from_its_own_scripts(built: tuple[Path, Path],
                                                                        tmp_path: Path) -> None:
    _, venv = built
    site = next((venv / "lib").glob("python3.*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    database = tmp_path / "migrated.db"
    done = json.loads(run([sys.executable, "-c", MIGRATE, str(database)], cwd=tmp_path, env=env))
    assert done["package"] == str(site / "fraudlog" / "__init__.py")
    assert done["migrations"] == str(site / "fraudlog" / "migrations")
    assert done["static"] == str(site / "fraudlog" / "api" / "static")
    newest = sorted(path.stem for path in (ROOT / "migrations" / "versions").glob("0*.py"))[-1]
    assert done["revision"] is not None and newest.startswith(done["revision"].split("_")[0])
    with create_engine(f"sqlite:///{database}").connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 0
