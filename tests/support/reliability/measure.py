"""The server process measured from outside: RSS and fds from /proc, tasks, threads and
objects from the app's ``/stats``.
"""

from __future__ import annotations

__all__ = ["Snapshot", "bytes_read", "fd_count", "snapshot"]

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from support.reliability.common import ScenarioError, async_wait_until, get_text

if TYPE_CHECKING:
    from support.servers import ServerProcess


def bytes_read(pid: int) -> int:
    """Bytes process `pid` has read through system calls so far (sockets included), from
    /proc/<pid>/io."""
    for line in Path(f"/proc/{pid}/io").read_text(encoding="ascii").splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no rchar in /proc/{pid}/io")


def fd_count(pid: int) -> int:
    """Open file descriptors of process `pid` (sockets, pipes, files), from /proc."""
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass(frozen=True)
class Snapshot:
    """The server process at one moment, measured from outside (and through ``/stats``)."""

    rss: int
    fds: int
    tasks: int
    threads: int
    objects: int | None = None
    stream_objects: dict[str, int] | None = None
    """Live instances of each type a stream is made of (``reliability_app.STREAM_TYPES``)."""

    def leftovers(self, baseline: Snapshot) -> dict[str, int]:
        """The stream types that have more live instances now than in `baseline`."""
        assert self.stream_objects is not None
        assert baseline.stream_objects is not None
        return {
            name: count - baseline.stream_objects.get(name, 0)
            for name, count in self.stream_objects.items()
            if count > baseline.stream_objects.get(name, 0)
        }


async def snapshot(server: ServerProcess, *, objects: bool = False) -> Snapshot:
    """RSS and fds from /proc; tasks, threads and (after a full collection) objects from the
    app. With `objects`, /proc is read after the collection, so RSS is measured without
    garbage waiting to be collected."""
    status, body = await get_text(server.port, "/stats?gc=1" if objects else "/stats")
    if status != 200:
        raise ScenarioError(f"/stats answered {status}: {body!r}")
    stats = json.loads(body)
    return Snapshot(
        rss=server.rss_bytes(),
        fds=fd_count(server.pid),
        tasks=stats["tasks"],
        threads=stats["threads"],
        objects=stats.get("objects"),
        stream_objects=stats.get("stream_objects"),
    )


async def snapshot_when_settled(
    server: ServerProcess, baseline: Snapshot, timeout: float
) -> Snapshot:
    """A snapshot taken once the app runs no more tasks than at `baseline` (or after `timeout`
    seconds, whichever comes first): what a scenario left behind, if anything."""

    async def settled() -> bool:
        return (await snapshot(server)).tasks <= baseline.tasks

    await async_wait_until(settled, timeout)
    return await snapshot(server)
