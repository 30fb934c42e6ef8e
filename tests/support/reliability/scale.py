"""Scale: many concurrent idle streams in one server; the cost of each."""

from __future__ import annotations

__all__ = ["RSS_PER_IDLE_STREAM_MAX", "TASKS_PER_IDLE_STREAM_MAX", "ScaleResult", "scale"]

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Final

from support.reliability.clients import open_streams
from support.reliability.common import (
    APP,
    APP_DIR,
    UVICORN_ARGS,
    Cleanups,
    ScenarioError,
    all_cleaned,
    async_wait_until,
)
from support.reliability.measure import Snapshot, snapshot
from support.servers import raise_fd_limit, run_server, wait_until

if TYPE_CHECKING:
    from pathlib import Path

RSS_PER_IDLE_STREAM_MAX: Final = 48 * 1024
"""Server RSS per idle stream, Starlette routing included (``stress/reliability.py --only
scale`` prints the figure; docs/reliability.md has it at full size, docs/performance.md the
peers' per-stream memory)."""
TASKS_PER_IDLE_STREAM_MAX: Final = 2.0
"""The SPEC's target, the server's own request task included."""


@dataclass
class ScaleResult:
    streams: int
    fd_limit: int
    baseline: Snapshot
    loaded: Snapshot
    """With every stream open and idle."""
    after: Snapshot
    """After the clients closed every stream and the server settled (or the deadline)."""
    open_seconds: float
    settle_seconds: float | None
    cleanups: Cleanups
    log: str

    @property
    def rss_per_stream(self) -> float:
        return (self.loaded.rss - self.baseline.rss) / self.streams

    @property
    def tasks_per_stream(self) -> float:
        return (self.loaded.tasks - self.baseline.tasks) / self.streams

    @property
    def fds_per_stream(self) -> float:
        return (self.loaded.fds - self.baseline.fds) / self.streams


def scale(work_dir: Path, streams: int = 10_000, *, warmup: int = 50) -> ScaleResult:
    """`streams` concurrent idle streams (one ``hello`` event, then silence; pings every 60 s)
    in one uvicorn process; the figures per stream, then everything closed again."""

    fd_limit = raise_fd_limit()
    # Each stream is one socket in this process and one in the server, plus a margin.
    if fd_limit < streams + 100:
        raise ScenarioError(
            f"{streams} streams need an open-files limit of at least {streams + 100}; "
            f"the hard limit here is {fd_limit} (raise it with `ulimit -Hn` as root)"
        )
    # uvicorn's accept backlog (2048) is ample for the 100 connection attempts in flight.
    with run_server("uvicorn", APP_DIR, work_dir, app=APP, extra_args=UVICORN_ARGS) as server:

        async def scenario() -> ScaleResult:
            warm = await open_streams(server.port, [f"/idle?id=w{n}" for n in range(warmup)])
            for response in warm:
                await response.aclose()
            warm_ids = [f"w{n}" for n in range(warmup)]
            if await wait_until(partial(all_cleaned, server, warm_ids), 10) is None:
                raise ScenarioError(f"warm-up cleanups missing; log:\n{server.log_tail()}")
            await asyncio.sleep(0.5)
            baseline = await snapshot(server, objects=True)
            ids = [f"s{n}" for n in range(streams)]
            started = time.monotonic()
            responses = await open_streams(
                server.port, [f"/idle?id={stream_id}" for stream_id in ids], timeout=60
            )
            open_seconds = time.monotonic() - started
            try:
                await asyncio.sleep(0.5)
                loaded = await snapshot(server, objects=True)
            finally:
                for response in responses:
                    response.close()

            async def settled() -> bool:
                if not all_cleaned(server, ids):
                    return False
                now = await snapshot(server)
                return now.tasks <= baseline.tasks and now.fds <= baseline.fds

            settle = await async_wait_until(settled, 30, poll=0.2)
            after = await snapshot(server, objects=True)
            return ScaleResult(
                streams=streams,
                fd_limit=fd_limit,
                baseline=baseline,
                loaded=loaded,
                after=after,
                open_seconds=open_seconds,
                settle_seconds=settle,
                cleanups=Cleanups.of(server.records(), ids),
                log=server.log(),
            )

        return asyncio.run(scenario())
