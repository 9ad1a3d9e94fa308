"""Who burns the cores while we measure, from Linux /proc: this process, the server's process tree,
the benchmark's Postgres backends, and everything else on the (shared) machine.

A figure measured while another session used a core is only half a figure, so every load run reports
its `other_cores` beside its rate.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, ppid, utime+stime in seconds) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _all_procs() -> dict[int, tuple[str, int, float]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            found[int(entry)] = stat
    return found


def _is_benchmark_postgres(pid: int, database: str | None) -> bool:
    """A backend of the benchmark's database, or a shared server process (walwriter, checkpointer...)."""
    if database is None:
        return False
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    is_backend = "(" in title or "[local]" in title  # client backends show the peer address
    return f" {database} " in title or not is_backend


def _process_tree(procs: dict[int, tuple[str, int, float]], root: int) -> set[int]:
    """`root` and its descendants (uvicorn --workers N: the parent plus its spawned children)."""
    tree = {root}
    changed = True
    while changed:
        changed = False
        for pid, (_comm, ppid, _cpu) in procs.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    return tree


@dataclass
class CpuSnapshot:
    """Cumulative CPU seconds at one moment; `later.usage_since(earlier)` gives cores used in between."""

    wall: float
    client: float
    server: float
    postgres: float
    machine_busy: float
    machine_total: float
    others: dict[int, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def take(cls, server_pid: int | Sequence[int] | None, postgres_database: str | None = None) -> CpuSnapshot:
        """Count the process trees of `server_pid` (one, or several: an API and its workers) as the server and
        `postgres_database`'s backends as Postgres."""
        procs = _all_procs()
        roots = [] if server_pid is None else [server_pid] if isinstance(server_pid, int) else list(server_pid)
        tree = {pid for root in roots for pid in _process_tree(procs, root)}
        server = postgres = 0.0
        others: dict[int, tuple[str, float]] = {}
        me = os.getpid()
        for pid, (comm, _ppid, cpu) in procs.items():
            if pid in tree:
                server += cpu
            elif comm.startswith("postgres") and _is_benchmark_postgres(pid, postgres_database):
                postgres += cpu
            elif pid != me:
                others[pid] = (comm, cpu)
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        total = sum(values[:8])
        busy = total - values[3] - values[4]  # minus idle and iowait
        return cls(time.perf_counter(), time.process_time(), server, postgres, busy / _TICK, total / _TICK, others)

    def usage_since(self, before: CpuSnapshot) -> dict[str, Any]:
        """Cores used on average: 1.0 is one core fully busy. machine_busy_share is the share of all cores."""
        wall = max(self.wall - before.wall, 1e-9)
        busy_share = (self.machine_busy - before.machine_busy) / max(self.machine_total - before.machine_total, 1e-9)
        by_command: dict[str, float] = {}
        for pid, (comm, cpu) in self.others.items():
            by_command[comm] = by_command.get(comm, 0.0) + cpu - before.others.get(pid, (comm, 0.0))[1]
        ours = self.client - before.client + self.server - before.server + self.postgres - before.postgres
        return {"client_cores": round((self.client - before.client) / wall, 3),
                "server_cores": round((self.server - before.server) / wall, 3),
                "postgres_cores": round((self.postgres - before.postgres) / wall, 3),
                # everything else on this shared machine: other sessions, the broker, the kernel
                "other_cores": round(busy_share * (os.cpu_count() or 1) - ours / wall, 3),
                "other_top": {comm: round(cpu / wall, 2)
                              for comm, cpu in sorted(by_command.items(), key=lambda kv: -kv[1])[:4] if cpu > 0},
                "machine_busy_share": round(busy_share, 3)}
