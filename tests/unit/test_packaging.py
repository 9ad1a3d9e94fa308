"""The import package `fraudlog` is made of three folders that keep their own names (`service/` is `fraudlog`,
`workers/` is `fraudlog.workers`, `migrations/` is `fraudlog.migrations`): setuptools' `package-dir` maps them,
and with it setuptools finds no package by itself, so `[tool.setuptools] packages` lists every one. A folder
left out of that list would be missing from the wheel (and from a strict editable install) while the tests,
run from the checkout, still passed: these checks fail first. tests/e2e/test_wheel.py builds the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]

# Each folder and the package it is installed as.
FOLDERS = {"service": "fraudlog", "workers": "fraudlog.workers", "migrations": "fraudlog.migrations"}


def source_folders() -> list[Path]:
    """Every folder below the three, caches left out."""
    return sorted(folder for top in FOLDERS for folder in [ROOT / top, *(ROOT / top).rglob("*")]
                  if folder.is_dir() and folder.name != "__pycache__")


def package_name(folder: Path) -> str:
    top, *rest = folder.relative_to(ROOT).parts
    return ".".join([FOLDERS[top], *rest])


def test_the_three_folders_are_mapped_to_fraudlog() -> None:
    assert SETUPTOOLS["package-dir"] == {package: folder for folder, package in FOLDERS.items()}
    assert isinstance(SETUPTOOLS["packages"], list)  # not `packages.find`, which cannot follow package-dir
    assert PYPROJECT["project"]["scripts"] == {"fraudlog": "fraudlog.cli:main"}


def test_every_folder_with_an_init_is_a_listed_package() -> None:
    packages = {package_name(folder) for folder in source_folders() if (folder / "__init__.py").is_file()}
    listed = set(SETUPTOOLS["packages"])
    assert packages - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - packages == set(), "listed in [tool.setuptools] packages, but no such folder with __init__.py"
    assert len(SETUPTOOLS["packages"]) == len(listed)


def test_no_module_lies_outside_a_package() -> None:
    """A folder of modules without an `__init__.py` would be a namespace package: never listed, never shipped."""
    loose = [str(folder.relative_to(ROOT)) for folder in source_folders()
             if any(folder.glob("*.py")) and not (folder / "__init__.py").is_file()]
    assert loose == []


def test_every_package_data_pattern_matches_files() -> None:
    data = SETUPTOOLS["package-data"]
    assert set(data) <= set(SETUPTOOLS["packages"])
    folder_of = {package: folder for folder, package in FOLDERS.items()}
    for package, patterns in data.items():
        for pattern in patterns:
            assert list((ROOT / folder_of[package]).glob(pattern)), f"{package}: {pattern} matches nothing"
    # What the code reads at run time from the installed package.
    assert {"api/static/*", "py.typed"} <= set(data["fraudlog"])
    assert {"alembic.ini", "script.py.mako"} <= set(data["fraudlog.migrations"])
