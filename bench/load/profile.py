"""py-spy of a process during a load, summarised: which threads were busy and in what frames.

Optional (`--profile`): py-spy samples the API from outside, so the profiled run's rate is reported but
never used as a figure.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load.results import REPO


def record_during(pid: int, seconds: float, out: Path, load: Callable[[float], Any], rate: int = 100,
                  ) -> dict[str, Any]:
    """py-spy `pid` for `seconds` while `load(seconds + 2.5)` runs (py-spy starts 1 s into the load)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    duration = max(2, int(seconds))
    command = [py_spy, "record", "--nonblocking", "--threads", "--format", "raw", "-r", str(rate),
               "-d", str(duration), "-o", str(out), "--pid", str(pid)]
    spy: list[subprocess.Popen[bytes]] = []
    starter = threading.Timer(1.0, lambda: spy.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                                          stderr=subprocess.PIPE)))
    starter.start()
    load(duration + 2.5)
    starter.join()
    _out, err = spy[0].communicate(timeout=60)
    if spy[0].returncode != 0 or not out.exists():
        return {"error": err.decode(errors="replace")[-500:]}
    summary = summarise_profile(out, rate * duration)
    summary["file"] = str(out.relative_to(REPO))
    return summary


def summarise_profile(path: Path, samples_per_thread: int) -> dict[str, Any]:
    threads: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0].split(":", 1)[-1].strip() or frames[0]
        threads[thread] += count
        total += count
        names = [_short_frame(f) for f in frames[1:]]
        if names:
            self_time[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    return {
        "active_share_by_thread": {t: round(n / samples_per_thread, 3) for t, n in threads.most_common(8)},
        "top_self": [(name, round(n / max(total, 1), 3)) for name, n in self_time.most_common(15)],
        "top_inclusive": [(name, round(n / max(total, 1), 3)) for name, n in inclusive.most_common(40)],
    }


def _short_frame(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(where).parts
    return f"{name} ({'/'.join(parts[-2:])})" if where else name
