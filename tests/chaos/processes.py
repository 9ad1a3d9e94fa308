"""Finding processes from /proc: a supervisor's children, and the process behind a TCP client port."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def child_pids(parent: int) -> list[int]:
    """Live children of `parent`, from /proc (field 4 of /proc/PID/stat is the parent's pid)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()  # after "(command)", which may hold spaces
            if int(fields[1]) == parent and fields[0] != "Z":
                children.append(int(entry))
    return sorted(children)


def command_line(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def pid_of_local_port(port: int) -> int | None:
    """The process holding the TCP socket whose local port is `port` (a client connected to the receiver)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                if os.readlink(f"/proc/{entry}/fd/{fd}") in inodes:
                    return int(entry)
    return None
