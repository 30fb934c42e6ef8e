"""What Linux's /proc says of a process: resident memory, CPU time, its process group.

Standard library only: the benchmark servers' own helpers import it too.
"""

from __future__ import annotations

__all__ = ["cpu_seconds", "process_group", "rss_bytes"]

import contextlib
import os
from pathlib import Path


def rss_bytes(pid: int) -> int:
    """The resident set size of `pid`, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"no VmRSS in /proc/{pid}/status")


def _stat_fields(pid: int) -> list[str]:
    # The fields after the command name, which is in parentheses and may hold spaces.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of `pid` so far, from /proc/PID/stat."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_group(pgid: int) -> list[int]:
    """The processes of process group `pgid` (a server started in its own session: it and
    its workers)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(_stat_fields(int(stat.parent.name))[2]) == pgid:
                pids.append(int(stat.parent.name))
    return pids
