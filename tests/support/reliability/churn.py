"""Churn: connect/disconnect cycles one after another; nothing may accumulate."""

from __future__ import annotations

__all__ = ["CHURN_KINDS", "RSS_GROWTH_AFTER_CHURN_MAX", "ChurnResult", "churn"]

import asyncio
import contextlib
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Final

from sse_starlette_binding.testing._http import Exchange
from support.http_client import open_request
from support.reliability.clients import close_with_reset, read_first_block
from support.reliability.common import (
    APP,
    APP_DIR,
    MIB,
    UVICORN_ARGS,
    Cleanups,
    ScenarioError,
    all_cleaned,
    async_wait_until,
    record_counts,
)
from support.reliability.measure import Snapshot, snapshot
from support.servers import raise_fd_limit, run_server, wait_until

if TYPE_CHECKING:
    from pathlib import Path

RSS_GROWTH_AFTER_CHURN_MAX: Final = 4 * MIB
"""Server RSS growth over the churn's cycles, after a warm-up (``stress/reliability.py --only
churn`` prints the figure; docs/reliability.md has it at full size)."""
CHURN_KINDS: Final = ("read-then-close", "close-at-once", "sync-producer", "reset")
"""How the churn's cycles end, in turn: the client reads the first event and closes (FIN); closes
right after sending the request (the server may see the disconnect before the response starts);
reads the first event of a sync generator (run in worker threads) and closes; reads the first
event and aborts with a TCP RST."""


@dataclass
class ChurnResult:
    cycles: int
    warmup: int
    baseline: Snapshot
    after: Snapshot
    """After the cycles, once every cleanup ran and the tasks were back (or the deadline)."""
    samples: list[tuple[int, Snapshot]]
    """(cycles done, snapshot) at regular intervals, without waiting for anything."""
    cleanups: Cleanups
    not_started: list[str]
    """Ids whose client read an event but whose producer never recorded its start."""
    settle_seconds: float | None
    seconds: float
    log: str

    @property
    def rss_growth(self) -> int:
        return self.after.rss - self.baseline.rss

    @property
    def object_growth(self) -> int:
        assert self.after.objects is not None
        assert self.baseline.objects is not None
        return self.after.objects - self.baseline.objects


async def _churn_cycle(port: int, stream_id: str, kind: str) -> None:
    path = f"/ticks?id={stream_id}&interval=1"
    if kind == "close-at-once":
        # Send the request and go: no response head is awaited.
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(Exchange("GET", path, [(b"Host", b"127.0.0.1")]).request_head)
        await writer.drain()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    if kind == "sync-producer":
        # A sync producer's `next()` cannot be interrupted: after a disconnect its worker
        # thread is busy until the tick it sleeps in ends, so keep that short.
        path = f"/ticks?id={stream_id}&interval=0.02&sync=1"
    response = await open_request(port, path)
    try:
        if response.status != 200:
            raise ScenarioError(f"{path} answered {response.status}")
        await read_first_block(response, 10)
    finally:
        if kind == "reset":
            close_with_reset(response)
        else:
            await response.aclose()


def churn(
    work_dir: Path, cycles: int = 1000, *, warmup: int = 100, samples: int = 4
) -> ChurnResult:
    """`cycles` connect/disconnect cycles, one after another, against one uvicorn, cycling
    through `CHURN_KINDS`; `warmup` cycles of the same kinds first, so that what a server
    allocates once (worker threads, caches, the signal handler) is in the baseline. The
    server is also measured `samples` times along the way, without waiting for anything."""
    sample_every = max(1, cycles // samples)

    raise_fd_limit()
    with run_server("uvicorn", APP_DIR, work_dir, app=APP, extra_args=UVICORN_ARGS) as server:

        async def scenario() -> ChurnResult:
            for n in range(warmup):
                await _churn_cycle(server.port, f"w{n}", CHURN_KINDS[n % len(CHURN_KINDS)])
            warm_ids = [f"w{n}" for n in range(warmup)]
            if await wait_until(partial(all_cleaned, server, warm_ids), 10) is None:
                raise ScenarioError(f"warm-up cleanups missing; log:\n{server.log_tail()}")
            await asyncio.sleep(0.5)
            baseline = await snapshot(server, objects=True)
            ids = [f"c{n}" for n in range(cycles)]
            taken: list[tuple[int, Snapshot]] = []
            started = time.monotonic()
            for n, stream_id in enumerate(ids):
                await _churn_cycle(server.port, stream_id, CHURN_KINDS[n % len(CHURN_KINDS)])
                if (n + 1) % sample_every == 0:
                    taken.append((n + 1, await snapshot(server)))
            seconds = time.monotonic() - started

            async def settled() -> bool:
                if not all_cleaned(server, ids):
                    return False
                now = await snapshot(server)
                return now.tasks <= baseline.tasks and now.fds <= baseline.fds

            settle = await async_wait_until(settled, 15)
            await asyncio.sleep(0.5)
            after = await snapshot(server, objects=True)
            records = server.records()
            starts = record_counts(records, "start")
            not_started = [
                stream_id
                for n, stream_id in enumerate(ids)
                if CHURN_KINDS[n % len(CHURN_KINDS)] != "close-at-once"
                and starts.get(stream_id, 0) != 1
            ]
            return ChurnResult(
                cycles=cycles,
                warmup=warmup,
                baseline=baseline,
                after=after,
                samples=taken,
                cleanups=Cleanups.of(records, ids),
                not_started=not_started,
                settle_seconds=settle,
                seconds=seconds,
                log=server.log(),
            )

        return asyncio.run(scenario())
