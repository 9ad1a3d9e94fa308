"""Where benchmark results go, and the facts about the machine that measured them.

Figures of a shared 2-core machine mean little without its load and versions beside them, so every
result document carries `machine_info()`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO / "bench" / "results"


def timestamp() -> str:
    """A UTC timestamp for result file names: 20261130T152504Z."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_results(name: str, document: Any, *, stamp: str | None = None) -> Path:
    """Write `document` as bench/results/<name>-<stamp>.json (git-ignored) and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{name}-{stamp or timestamp()}.json"
    out.write_text(json.dumps(document, indent=2, default=str))
    return out


def machine_info() -> dict[str, Any]:
    """Cores, CPU model, load average, Python and library versions, and the commit measured."""
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform(), "sqlite": sqlite3.sqlite_version}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        info["loadavg_at_start"] = Path("/proc/loadavg").read_text().split()[:3]
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        info["packages"] = {name: importlib.metadata.version(name)
                            for name in ("litestar", "uvicorn", "msgspec", "sqlalchemy", "psycopg")}
    info["uvicorn_extras"] = {name: importlib.util.find_spec(name) is not None for name in ("uvloop", "httptools")}
    with contextlib.suppress(OSError):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "service"], cwd=REPO, capture_output=True,
                               text=True)
        info["git"] = {"commit": commit.stdout.strip(), "service_dirty": bool(dirty.stdout.strip())}
    return info
