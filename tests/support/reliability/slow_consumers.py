"""Slow consumers: clients that stop reading, next to a healthy stream whose latency must
not suffer.
"""

from __future__ import annotations

__all__ = [
    "LATENCY_FLOOR",
    "LATENCY_RATIO_MAX",
    "RSS_PER_STALLED_CLIENT_MAX",
    "SlowConsumersResult",
    "latency_bound",
    "slow_consumers",
]

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from support.http_client import open_request
from support.reliability.clients import Latencies, TickReader, id_gaps
from support.reliability.common import (
    APP,
    APP_DIR,
    MIB,
    UVICORN_ARGS,
    Cleanups,
    ScenarioError,
    async_wait_until,
)
from support.reliability.measure import Snapshot, fd_count, snapshot
from support.servers import raise_fd_limit, run_server, wait_until

if TYPE_CHECKING:
    from pathlib import Path

RSS_PER_STALLED_CLIENT_MAX: Final = 1 * MIB
"""Server RSS growth per client that stopped reading: what the server's write buffers and one
pending write hold, since the producer waits for the client (``stress/reliability.py --only
slow`` prints the figure; docs/reliability.md has it at full size)."""
LATENCY_RATIO_MAX: Final = 2.0
"""A healthy stream's median latency next to stalled clients, over its median alone."""
LATENCY_FLOOR: Final = 0.001
"""A median below 1 ms counts as 1 ms in that ratio, so the bound is never under 2 ms:
loopback medians are a tenth of a millisecond, where scheduling noise alone can double them."""


def latency_bound(unloaded_p50: float) -> float:
    """The highest median latency allowed next to stalled clients."""
    return LATENCY_RATIO_MAX * max(unloaded_p50, LATENCY_FLOOR)


@dataclass
class SlowConsumersResult:
    stalled: int
    send_timeout: float | None
    unloaded: Latencies
    """The healthy stream alone."""
    loaded: Latencies
    """The healthy stream from the moment the stalled clients connected."""
    baseline: Snapshot
    rss_peak: int
    """The server's highest RSS while the stalled clients were connected."""
    dropped_while_stalled: int
    """Stalled streams whose producer was stopped (cleanup ran) while their client was still
    connected and not reading: all of them with `send_timeout`, none without."""
    drop_seconds: float | None
    """With `send_timeout`: from their connecting until the last stalled producer was
    stopped."""
    fds_while_stalled: int
    """Server fds once the stalled streams were dropped (or at the end of the window)."""
    cleanups: Cleanups
    """Of the stalled streams, after their clients left too."""
    after: Snapshot
    """Once the stalled clients had left and the server settled."""
    healthy_gaps: int
    """Events missing from the healthy stream's id sequence (it must be none)."""
    send_timeout_errors: int
    """``SendTimeoutError`` tracebacks in the server's log."""
    log: str

    @property
    def rss_growth(self) -> int:
        return self.rss_peak - self.baseline.rss


def slow_consumers(
    work_dir: Path,
    stalled: int = 50,
    *,
    send_timeout: float | None,
    samples: int = 150,
    interval: float = 0.02,
    event_size: int = 16384,
) -> SlowConsumersResult:
    """A healthy stream (a tick every `interval` s) next to `stalled` clients that connect to
    a stream that sends `event_size`-byte events as fast as it can and never read (a 4 KiB
    receive buffer). The healthy stream's latency is measured over `samples` events alone,
    then over `samples` events from the moment the stalled clients connect."""

    raise_fd_limit()
    timeout_query = "none" if send_timeout is None else str(send_timeout)
    with run_server("uvicorn", APP_DIR, work_dir, app=APP, extra_args=UVICORN_ARGS) as server:

        async def scenario() -> SlowConsumersResult:
            healthy = TickReader(
                await open_request(server.port, f"/ticks?id=healthy&interval={interval}")
            )
            try:
                return await measure(healthy)
            finally:
                healthy.stop()

        async def measure(healthy: TickReader) -> SlowConsumersResult:
            await healthy.collect(20, 10)  # warm-up
            unloaded = await healthy.collect(samples, samples * interval * 5 + 5)
            baseline = await snapshot(server)
            rss_peak = baseline.rss
            ids = [f"slow{n}" for n in range(stalled)]

            def dropped() -> int:
                return Cleanups.of(server.records(), ids).cleaned

            connected = time.monotonic()
            first = len(healthy.latencies)
            stalled_responses = await asyncio.gather(
                *(
                    open_request(
                        server.port,
                        f"/flood?id={stream_id}&size={event_size}&send_timeout={timeout_query}",
                        rcvbuf=4096,
                        limit=4096,
                    )
                    for stream_id in ids
                )
            )
            try:
                # The window: `samples` events of the healthy stream; with send_timeout, also
                # until every stalled stream was dropped; the RSS sampled all along.
                deadline = time.monotonic() + samples * interval * 5 + 30
                drop_seconds: float | None = None
                while time.monotonic() < deadline:
                    rss_peak = max(rss_peak, server.rss_bytes())
                    if send_timeout is not None and drop_seconds is None and dropped() == stalled:
                        drop_seconds = time.monotonic() - connected
                    enough = len(healthy.latencies) >= first + samples
                    if enough and (send_timeout is None or drop_seconds is not None):
                        break
                    await asyncio.sleep(0.05)
                loaded = Latencies(healthy.latencies[first : first + samples])
                if len(loaded.values) < samples:
                    raise ScenarioError(
                        f"the healthy stream delivered {len(loaded.values)} of {samples} "
                        f"events next to {stalled} stalled clients; log:\n{server.log_tail()}"
                    )
                await asyncio.sleep(0.3)
                rss_peak = max(rss_peak, server.rss_bytes())
                dropped_while_stalled = dropped()
                fds_while_stalled = fd_count(server.pid)
            finally:
                for response in stalled_responses:
                    response.close()
            # The stalled clients are gone now: every stalled producer must be stopped.
            await wait_until(lambda: dropped() == stalled, 10)
            await healthy.collect(5, 5)  # and the healthy stream still flows

            async def settled() -> bool:
                now = await snapshot(server)
                return now.tasks <= baseline.tasks and now.fds <= baseline.fds

            await async_wait_until(settled, 10)
            after = await snapshot(server)
            log = server.log()
            return SlowConsumersResult(
                stalled=stalled,
                send_timeout=send_timeout,
                unloaded=unloaded,
                loaded=loaded,
                baseline=baseline,
                rss_peak=rss_peak,
                dropped_while_stalled=dropped_while_stalled,
                drop_seconds=drop_seconds,
                fds_while_stalled=fds_while_stalled,
                cleanups=Cleanups.of(server.records(), ids),
                after=after,
                healthy_gaps=id_gaps(healthy.ids),
                send_timeout_errors=log.count("SendTimeoutError:"),
                log=log,
            )

        return asyncio.run(scenario())
