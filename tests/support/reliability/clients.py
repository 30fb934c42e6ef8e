"""The clients the scenarios drive: many streams opened at once, a ticking stream read
in the background with each event's latency, and a client that leaves with a TCP reset.
"""

from __future__ import annotations

__all__ = [
    "Latencies",
    "TickReader",
    "close_with_reset",
    "id_gaps",
    "open_streams",
    "percentile",
    "read_first_block",
]

import asyncio
import socket
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from support.http_client import HTTPResponse, open_request
from support.reliability.common import ScenarioError
from support.servers import wait_until

if TYPE_CHECKING:
    from collections.abc import Sequence


def close_with_reset(response: HTTPResponse) -> None:
    """Close the connection with a TCP RST instead of a FIN (SO_LINGER 0): a client whose
    machine vanished, or a proxy that aborts."""
    sock = response.writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    response.writer.transport.abort()


async def read_first_block(response: HTTPResponse, timeout: float) -> bytes:
    block = await asyncio.wait_for(response.read_block(), timeout)
    if block is None:
        raise ScenarioError("the stream ended before its first event")
    return block


async def open_streams(
    port: int,
    paths: Sequence[str],
    *,
    concurrency: int = 100,
    timeout: float = 30.0,
    method: str = "GET",
) -> list[HTTPResponse]:
    """Open one stream per path, at most `concurrency` connection attempts at a time (so the
    server's accept backlog never overflows), and read each stream's first event block. Fails
    (closing whatever it opened) if any stream does not deliver one within `timeout`."""
    gate = asyncio.Semaphore(concurrency)
    opened: list[HTTPResponse | None] = [None] * len(paths)

    async def one(index: int, path: str) -> None:
        async with gate:
            response = await open_request(port, path, method=method, timeout=timeout)
            opened[index] = response
            if response.status != 200:
                raise ScenarioError(f"{path} answered {response.status}")
            await read_first_block(response, timeout)

    try:
        await asyncio.wait_for(
            asyncio.gather(*(one(i, path) for i, path in enumerate(paths))), timeout * 2
        )
    except BaseException:
        for response in opened:
            if response is not None:
                response.close()
        raise
    return [response for response in opened if response is not None]


def id_gaps(ids: Sequence[int]) -> int:
    """How many ids are missing from a stream's consecutive id sequence."""
    return (ids[-1] - ids[0] + 1) - len(ids) if ids else 0


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[rank]


@dataclass
class Latencies:
    """Event latencies of one stream, in seconds: client receive time minus the server's
    timestamp in the event (both CLOCK_MONOTONIC, one clock for every process on Linux)."""

    values: list[float]

    @property
    def p50(self) -> float:
        return percentile(self.values, 0.5)

    @property
    def p90(self) -> float:
        return percentile(self.values, 0.9)

    @property
    def max(self) -> float:
        return max(self.values)

    def describe(self) -> str:
        return (
            f"p50 {self.p50 * 1e3:.2f} ms, p90 {self.p90 * 1e3:.2f} ms, "
            f"max {self.max * 1e3:.2f} ms ({len(self.values)} events)"
        )


class TickReader:
    """Reads a ``/ticks`` stream in the background, keeping each event's latency."""

    def __init__(self, response: HTTPResponse) -> None:
        self.response = response
        self.latencies: list[float] = []
        self.ids: list[int] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while (block := await self.response.read_block()) is not None:
            received = time.monotonic()
            fields = dict(
                line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
            )
            if "data" in fields:
                self.latencies.append(received - float(fields["data"]))
                self.ids.append(int(fields["id"]))

    async def collect(self, count: int, timeout: float) -> Latencies:
        """The latencies of the next `count` events."""
        first = len(self.latencies)
        await wait_until(lambda: len(self.latencies) >= first + count or self.task.done(), timeout)
        if len(self.latencies) < first + count:
            ended = self.task.done() and not self.task.cancelled()
            raise ScenarioError(
                f"the healthy stream delivered {len(self.latencies) - first} of {count} "
                f"events in {timeout} s"
                + (f"; it ended: {self.task.exception()!r}" if ended else "")
            )
        return Latencies(self.latencies[first : first + count])

    def stop(self) -> None:
        self.task.cancel()
        self.response.close()
        if self.task.done() and not self.task.cancelled():
            self.task.exception()  # retrieved: it was reported by `collect`, if it mattered
