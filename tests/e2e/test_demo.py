"""`fraudlog demo` end to end, as a new user runs it, on a small stream."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_scores_every_transaction(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "demo", "--rows", "1500", "--train-rows", "800", "--no-serve",
         "--port", "0", "--db", str(tmp_path / "demo.db")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "demo.log").read_text().count('"logger":') > 0  # the log went to its file (issue 27 #15)
    out = result.stdout
    assert re.search(r"transactions streamed\s+│\s+1,500", out), out
    assert re.search(r"transactions scored\s+│\s+1,500", out), out
    assert re.search(r"served ROC AUC \(the champions' scores\)\s+│\s+0\.\d+ on 1,500 labels", out), out
    assert re.search(r"│ v1\s+│ champion\s+│ 0\.\d+ \(1,500\)", out), out  # each version's AUC on what it scored
