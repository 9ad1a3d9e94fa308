"""`fraudlog train --spec` works where the user stands (issue 31): a module in the working directory, or a
file path; a spec that cannot be imported fails in one line before anything is opened or written.

The commands run as the installed `fraudlog` script does: `python -P` leaves the working directory off
`sys.path` (`python -m` alone would put it there and hide the defect).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import REPO

PIPELINE = '''
from river import linear_model, preprocessing


def tree_model():
    return preprocessing.StandardScaler() | linear_model.LogisticRegression()
'''


def fraudlog(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`fraudlog ARGS` run from `cwd`, importing this checkout's code and nothing from `cwd` unless asked."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("FRAUDLOG_")}
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-P", "-m", "fraudlog.cli", *args], cwd=cwd, capture_output=True,
                          text=True, env={**base, "FRAUDLOG_LOG_FORMAT": "text", **env}, timeout=300)


def train(cwd: Path, csv: Path, spec: str, **env: str) -> subprocess.CompletedProcess[str]:
    return fraudlog(cwd, "train", "--csv", str(csv), "--rows", "800", "--cards", "50", "--spec", spec, **env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's directory holding `my_pipeline.py`, and a sub-directory `pipelines/` holding another copy."""
    (tmp_path / "my_pipeline.py").write_text(PIPELINE)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "their_pipeline.py").write_text(PIPELINE)
    return tmp_path


def secrets_for(tmp_path: Path) -> dict[str, str]:
    return {"FRAUDLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'spec.db'}", "FRAUDLOG_SECRET_KEY": "spec-secret"}


def test_a_module_in_the_working_directory_is_a_spec_without_pythonpath(project: Path, creditcard_csv: Path) -> None:
    result = train(project, creditcard_csv, "my_pipeline:tree_model", **secrets_for(project))
    assert result.returncode == 0, result.stderr
    assert "version 1 (custom)" in result.stdout


def test_a_file_path_is_a_spec_and_its_version_verifies_from_another_directory(project: Path,
                                                                               creditcard_csv: Path) -> None:
    env = secrets_for(project)
    result = train(project, creditcard_csv, "pipelines/their_pipeline.py:tree_model", **env)
    assert result.returncode == 0, result.stderr
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    verified = fraudlog(elsewhere, "models", "verify", "1", **env)  # lineage holds the file's absolute path
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize("spec, says", [
    ("no_such_pipeline:tree_model", "cannot import no_such_pipeline"),
    ("missing/pipeline.py:tree_model", "no such file"),
    ("my_pipeline:no_such_factory", "my_pipeline has no no_such_factory"),
    ("not a spec", "expected package.module:factory or path/to/file.py:factory"),
])
def test_a_spec_that_cannot_be_imported_fails_in_one_line_before_any_database_is_made(
        project: Path, creditcard_csv: Path, spec: str, says: str) -> None:
    env = secrets_for(project)
    result = train(project, creditcard_csv, spec, **env)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fraudlog train: ") and says in lines[0], result.stderr
    assert not (project / "spec.db").exists()
