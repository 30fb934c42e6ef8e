"""Reliability scenarios against real servers, shared by the tests and the stress script.

Each scenario is a plain function that starts its own server (`support.servers.run_server`, in
its own process group, killed whatever happens) serving ``reliability_app.py``, drives it with
raw asyncio sockets from this process, measures the server from outside, and returns its
figures as a dataclass. It asserts nothing about the figures: ``tests/reliability`` runs the
scenarios at CI sizes and asserts the bounds, ``stress/reliability.py`` runs them at full size
and prints a table. One implementation, two sizes.

What is measured, and how:

- RSS and open file descriptors of the server process from ``/proc/<pid>/status`` and
  ``/proc/<pid>/fd``, so the measuring does not disturb the server;
- tasks (the server's own per-request tasks included) and objects tracked by the garbage
  collector through the app's ``/stats`` endpoint, one short request, whose own task is counted
  every time, so it cancels out of every difference;
- which producers started and which cleanups ran from the app's record file.

Every wait has a deadline: a scenario that cannot complete raises (`ScenarioError`, with the
server's log tail where it helps, or a `TimeoutError`) instead of hanging, and its server is
killed by process group on the way out.
"""

from __future__ import annotations

__all__ = [
    "ABANDONED_LOG",
    "APP",
    "APP_DIR",
    "BODY_RSS_GROWTH_MAX",
    "CHURN_KINDS",
    "FD_SLACK",
    "HOSTILE_LAST_EVENT_IDS",
    "LATENCY_FLOOR",
    "LATENCY_RATIO_MAX",
    "MIB",
    "RSS_GROWTH_AFTER_CHURN_MAX",
    "RSS_PER_IDLE_STREAM_MAX",
    "RSS_PER_STALLED_CLIENT_MAX",
    "SHUTDOWN_CASES",
    "STREAM_ERROR_LOG",
    "TASKS_PER_IDLE_STREAM_MAX",
    "TRACEBACK",
    "UVICORN_ARGS",
    "UVICORN_H11_ARGS",
    "ChurnResult",
    "Cleanups",
    "EndlessBodyResult",
    "HostileResult",
    "LastEventIdOutcome",
    "Latencies",
    "MisbehavingResult",
    "MisbehaviourOutcome",
    "ParserResult",
    "ScaleResult",
    "ScenarioError",
    "ShutdownCase",
    "ShutdownResult",
    "SlowConsumersResult",
    "Snapshot",
    "bytes_read",
    "churn",
    "fd_count",
    "feed_parser",
    "hostile_input",
    "hostile_streams",
    "latency_bound",
    "misbehaving_producers",
    "parser_long_line_cost",
    "parser_peak_bound",
    "parser_under_hostile_streams",
    "raise_fd_limit",
    "scale",
    "shutdown",
    "slow_consumers",
    "snapshot",
]

import asyncio
import contextlib
import json
import os
import random
import resource
import socket
import struct
import time
import tracemalloc
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sse_core import DEFAULT_MAX_BUFFER_SIZE, BufferLimitExceeded, EventParser
from sse_starlette_binding.testing._http import Exchange
from support.http_client import HTTPResponse, IncompleteResponse, open_request
from support.reliability_app import MISBEHAVIOURS
from support.servers import ServerKind, ServerProcess, run_server, wait_until

if TYPE_CHECKING:
    import signal
    from collections.abc import Awaitable, Callable, Iterator, Sequence

APP_DIR: Final = Path(__file__).resolve().parent
APP: Final = "reliability_app:app"
# The same uvicorn as the other real-server tests, without the access log: thousands of
# requests would bury the lines a scenario looks for (errors, tracebacks) and cost CPU.
UVICORN_ARGS: Final = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")
# h11 limits a request head to 16 KiB; httptools sets no limit.
UVICORN_H11_ARGS: Final = ("--loop", "uvloop", "--http", "h11", "--no-access-log")
TRACEBACK: Final = "Traceback (most recent call last)"
MIB: Final = 1 << 20


# The bounds the tests assert, shared with the stress script, which checks them at full size.
# Each is stated with what was measured on a 2-core machine (docs/reliability.md has the rest).

RSS_GROWTH_AFTER_CHURN_MAX: Final = 4 * MIB
"""Server RSS growth over the churn's cycles, after a warm-up (measured: under 0.3 MiB)."""
FD_SLACK: Final = 2
"""Server fds may settle this many above the baseline (a log file reopened, say)."""
RSS_PER_IDLE_STREAM_MAX: Final = 48 * 1024
"""Server RSS per idle stream, Starlette routing included (measured: 24-30 KiB; sse-starlette
takes about 47 KiB without routing)."""
TASKS_PER_IDLE_STREAM_MAX: Final = 2.0
"""The SPEC's target, the server's own request task included."""
RSS_PER_STALLED_CLIENT_MAX: Final = 1 * MIB
"""Server RSS growth per client that stopped reading (measured: 150-300 KiB, what the
server's write buffers and one pending write hold; the producer waits for the client)."""
BODY_RSS_GROWTH_MAX: Final = 32 * MIB
"""Server RSS growth while a client sends a request body without end (measured: 0 MiB for
4 GiB: the stream reads the body and drops it as it comes)."""
LATENCY_RATIO_MAX: Final = 2.0
"""A healthy stream's median latency next to stalled clients, over its median alone."""
LATENCY_FLOOR: Final = 0.001
"""A median below 1 ms counts as 1 ms in that ratio, so the bound is never under 2 ms:
loopback medians are a tenth of a millisecond, where scheduling noise alone can double them."""


def latency_bound(unloaded_p50: float) -> float:
    """The highest median latency allowed next to stalled clients."""
    return LATENCY_RATIO_MAX * max(unloaded_p50, LATENCY_FLOOR)


def parser_peak_bound(max_buffer_size: int, chunk: int) -> int:
    """The most memory feeding a parser may take: its buffer twice (a line is extended by
    concatenation, so the old and the new copy live together for a moment), two chunks (the
    one fed and its decoding) and a little for the rest."""
    return 2 * max_buffer_size + 2 * chunk + 256 * 1024


class ScenarioError(AssertionError):
    """A scenario could not run to the end (a deadline passed, a request failed)."""


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; returns the new soft
    limit. A server started afterwards inherits it, so call this before starting one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit still stops at the kernel's nr_open (a million, usually).
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


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


async def async_wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float, *, poll: float = 0.05
) -> float | None:
    """`wait_until` for a condition that has to ask the server."""
    start = time.monotonic()
    while True:
        if await condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        await asyncio.sleep(poll)


async def get_text(port: int, path: str, *, timeout: float = 10.0) -> tuple[int, str]:
    """One plain request: its status and its whole body as text."""
    response = await open_request(port, path, headers=(("Connection", "close"),), timeout=timeout)
    try:
        body = await asyncio.wait_for(response.read_to_end(), timeout)
    finally:
        await response.aclose()
    return response.status, body.decode()


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


def record_counts(records: Sequence[str], what: str) -> dict[str, int]:
    """How many times each stream id appears in a record line ``"<what> <id>"``."""
    counts: dict[str, int] = {}
    prefix = what + " "
    for line in records:
        if line.startswith(prefix):
            stream_id = line[len(prefix) :]
            counts[stream_id] = counts.get(stream_id, 0) + 1
    return counts


@dataclass
class Cleanups:
    """Starts and cleanups recorded for a set of stream ids."""

    total: int
    started: int
    cleaned: int
    """Ids whose cleanup ran exactly once."""
    wrong: list[str] = field(default_factory=list)
    """Ids whose cleanup count is not their start count (never ran, or ran twice)."""

    @classmethod
    def of(cls, records: Sequence[str], ids: Sequence[str]) -> Cleanups:
        starts = record_counts(records, "start")
        cleanups = record_counts(records, "cleanup")
        wrong = [
            stream_id
            for stream_id in ids
            if cleanups.get(stream_id, 0) != starts.get(stream_id, 0)
            or starts.get(stream_id, 0) > 1
        ]
        return cls(
            total=len(ids),
            started=sum(1 for stream_id in ids if starts.get(stream_id, 0) == 1),
            cleaned=sum(1 for stream_id in ids if cleanups.get(stream_id, 0) == 1),
            wrong=wrong,
        )


def all_cleaned(server: ServerProcess, ids: Sequence[str]) -> bool:
    """Whether every one of `ids` that started has had its cleanup run exactly once."""
    return not Cleanups.of(server.records(), ids).wrong


# -- churn ----------------------------------------------------------------------------------------

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


# -- scale ----------------------------------------------------------------------------------------


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


# -- slow consumers -------------------------------------------------------------------------------


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


# -- shutdown -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShutdownCase:
    """A server, its worker's event loop, and the arguments that give it a bounded shutdown."""

    kind: ServerKind
    worker: str
    """``asyncio`` or ``trio``: the async library the app runs under."""
    extra_args: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.worker}"


SHUTDOWN_CASES: Final = (
    # uvicorn and granian need no option: the streams end themselves on the signal.
    ShutdownCase("uvicorn", "asyncio", UVICORN_ARGS),
    # hypercorn's worker never receives the signal (its main process tells it through a
    # multiprocessing event); it cancels open connections after --graceful-timeout (3 s by
    # default, 1 s here). Its accept backlog is 100 by default; the clients connect 100 at a
    # time, so raise it to be sure no connection attempt waits on a SYN retransmit.
    ShutdownCase("hypercorn", "asyncio", ("--graceful-timeout", "1", "--backlog", "2048")),
    ShutdownCase(
        "hypercorn",
        "trio",
        ("--graceful-timeout", "1", "--backlog", "2048", "--worker-class", "trio"),
    ),
    # granian's default backpressure is its backlog (1024) per worker: room for 1,000 streams
    # and the health check, but not much more, so both are raised.
    ShutdownCase("granian", "asyncio", ("--backlog", "4096", "--backpressure", "4096")),
)
"""uvicorn and granian run only under asyncio; hypercorn also runs trio workers."""


@dataclass
class ShutdownResult:
    case: ShutdownCase
    signal: str
    streams: int
    exit_seconds: float | None
    """From the signal to the main process's exit; None if it did not exit in time."""
    returncode: int | None
    clients: dict[str, int]
    """How the clients' responses ended: "complete" (the last chunk arrived), "cut" (the
    connection closed without it) or "open" (nothing yet, 2 s after the exit)."""
    cleanups: Cleanups
    app_tracebacks: int
    """Tracebacks in the server's log that go through the binding or the app."""
    log: str


async def _read_to_end(response: HTTPResponse) -> str:
    try:
        while (await response.read_some()) != b"":
            pass
    except (IncompleteResponse, ConnectionError):
        return "cut"
    return "complete"


def shutdown(
    work_dir: Path,
    case: ShutdownCase,
    signum: signal.Signals,
    streams: int = 1000,
    *,
    exit_timeout: float = 30.0,
) -> ShutdownResult:
    """`streams` open idle streams (each delivered its first event, so every producer runs),
    every client reading; then `signum` to the server's main process: how long until it exits,
    how the responses ended, which cleanups ran."""

    raise_fd_limit()
    with run_server(case.kind, APP_DIR, work_dir, app=APP, extra_args=case.extra_args) as server:

        async def scenario() -> ShutdownResult:
            ids = [f"s{n}" for n in range(streams)]
            responses = await open_streams(server.port, [f"/idle?id={i}" for i in ids])
            try:
                readers = [asyncio.create_task(_read_to_end(r)) for r in responses]
                signalled = time.monotonic()
                server.send_signal(signum)
                exited = await wait_until(server.exited, exit_timeout, poll=0.005)
                exit_seconds = None if exited is None else time.monotonic() - signalled
                done, pending = await asyncio.wait(readers, timeout=2)
                for task in pending:
                    task.cancel()
                clients: dict[str, int] = {}
                for task in readers:
                    outcome = task.result() if task in done else "open"
                    clients[outcome] = clients.get(outcome, 0) + 1
                # Read before the clients close their connections, which would end any stream
                # that the shutdown did not.
                records = server.records()
            finally:
                for response in responses:
                    response.close()
            log = server.log()
            tracebacks = log.split(TRACEBACK)[1:]
            return ShutdownResult(
                case=case,
                signal=signum.name,
                streams=streams,
                exit_seconds=exit_seconds,
                returncode=server.process.returncode,
                clients=clients,
                cleanups=Cleanups.of(records, ids),
                app_tracebacks=sum(
                    "sse_starlette_binding" in t or "reliability_app" in t for t in tracebacks
                ),
                log=log,
            )

        return asyncio.run(scenario())


# -- misbehaving producers ------------------------------------------------------------------------

STREAM_ERROR_LOG: Final = "the event stream's producer raised; ending the stream"
ABANDONED_LOG: Final = "took over"  # "... took over N seconds to close; abandoned it"


@dataclass
class MisbehaviourOutcome:
    kind: str
    copies: int
    clients: dict[str, int]
    """How the responses ended: "complete", "cut", or "open" (still open at the deadline)."""
    events: list[str]
    """The event types the first client received (pings excluded)."""
    pings: int
    """Keep-alive pings the first client received."""
    cleanups: Cleanups
    cleanups_done: int
    """Producers whose cleanup got to its end (a slow cleanup cut short does not)."""
    seconds: float
    """From sending the requests until the last response ended (or the deadline)."""
    log: str
    """What the server logged meanwhile."""


@dataclass
class MisbehavingResult:
    outcomes: list[MisbehaviourOutcome]
    healthy_events: int
    healthy_gaps: int
    """Events missing from the healthy stream's id sequence (it must be none)."""
    fresh_request_status: int
    """A new request's status after all of it."""
    baseline: Snapshot
    after: Snapshot
    log: str


async def _misbehaving_stream(
    port: int, path: str, *, deadline: float
) -> tuple[str, list[str], int]:
    """Read one stream until it ends or `deadline` (loop time): its outcome, the event types
    received and the number of pings."""
    response = await open_request(port, path)
    events: list[str] = []
    pings = 0
    outcome = "open"
    try:
        if response.status != 200:
            return f"status {response.status}", events, pings
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                try:
                    while (block := await response.read_block()) is not None:
                        if block.startswith(b":"):
                            pings += 1
                        else:
                            kind = b"message"
                            for line in block.split(b"\r\n"):
                                if line.startswith(b"event: "):
                                    kind = line[len(b"event: ") :]
                            events.append(kind.decode())
                    outcome = "complete"
                except (IncompleteResponse, ConnectionError):
                    outcome = "cut"
    finally:
        response.close()
    return outcome, events, pings


def misbehaving_producers(
    work_dir: Path,
    copies: int = 1,
    *,
    cleanup_timeout: float = 0.5,
    hang_seconds: float = 1.0,
    kinds: Sequence[str] | None = None,
) -> MisbehavingResult:
    """Each kind of misbehaving producer of ``reliability_app.MISBEHAVIOURS`` in turn,
    `copies` streams of it at once, next to a healthy stream that ticks all along; the
    ``hang`` streams are given `hang_seconds` (pings every 0.2 s), then their clients leave."""

    raise_fd_limit()
    with run_server("uvicorn", APP_DIR, work_dir, app=APP, extra_args=UVICORN_ARGS) as server:

        async def scenario() -> MisbehavingResult:
            healthy = TickReader(await open_request(server.port, "/ticks?id=healthy"))
            try:
                await healthy.collect(5, 10)
                baseline = await snapshot(server)
                outcomes = []
                for kind in kinds or list(MISBEHAVIOURS):
                    log_start = len(server.log())
                    ids = [f"{kind}-{n}" for n in range(copies)]
                    query = f"kind={kind}&cleanup_timeout={cleanup_timeout}&ping=0.2"
                    loop = asyncio.get_running_loop()
                    started = loop.time()
                    # A response that should end does so within the cleanup timeout and some;
                    # a hanging one is given `hang_seconds`.
                    limit = hang_seconds if kind == "hang" else cleanup_timeout + 10
                    ends = await asyncio.gather(
                        *(
                            _misbehaving_stream(
                                server.port,
                                f"/misbehave?id={stream_id}&{query}",
                                deadline=started + limit,
                            )
                            for stream_id in ids
                        )
                    )
                    seconds = loop.time() - started
                    # The clients are gone now: every producer's cleanup must run, even the
                    # hanging ones'. A cleanup that is cut short still began.
                    await wait_until(partial(all_cleaned, server, ids), 10)
                    await asyncio.sleep(0.2)  # for the last log lines
                    clients: dict[str, int] = {}
                    for outcome, _, _ in ends:
                        clients[outcome] = clients.get(outcome, 0) + 1
                    records = server.records()
                    done = record_counts(records, "cleanup-done")
                    outcomes.append(
                        MisbehaviourOutcome(
                            kind=kind,
                            copies=copies,
                            clients=clients,
                            events=ends[0][1],
                            pings=ends[0][2],
                            cleanups=Cleanups.of(records, ids),
                            cleanups_done=sum(done.get(stream_id, 0) for stream_id in ids),
                            seconds=seconds,
                            log=server.log()[log_start:],
                        )
                    )
                await healthy.collect(5, 10)
                fresh_status, _ = await get_text(server.port, "/health")

                async def settled() -> bool:
                    return (await snapshot(server)).tasks <= baseline.tasks

                await async_wait_until(settled, 10)
                after = await snapshot(server)
                ids_seen = healthy.ids
            finally:
                healthy.stop()
            return MisbehavingResult(
                outcomes=outcomes,
                healthy_events=len(ids_seen),
                healthy_gaps=id_gaps(ids_seen),
                fresh_request_status=fresh_status,
                baseline=baseline,
                after=after,
                log=server.log(),
            )

        return asyncio.run(scenario())


# -- hostile input --------------------------------------------------------------------------------

HOSTILE_LAST_EVENT_IDS: Final = (
    ("plain", b"41"),
    ("utf-8", "café-7".encode()),
    ("padded", b"  41\t"),
    ("not utf-8", b"\xff\xfe\xfd"),
    ("latin-1", "caf\xe9".encode("latin-1")),
    ("overlong utf-8", b"\xc0\xaf"),
    ("NUL", b"4\x001"),
    ("CR", b"4\r1"),
    ("LF", b"4\n1"),
    ("control chars", bytes(range(1, 32)).replace(b"\r", b"").replace(b"\n", b"")),
    ("8 KiB", b"7" * 8 * 1024),
    ("64 KiB", b"7" * 64 * 1024),
    ("1 MiB", b"7" * MIB),
    ("16 MiB", b"7" * 16 * MIB),
)
"""Raw ``Last-Event-ID`` header values, sent as bytes."""


@dataclass
class LastEventIdOutcome:
    label: str
    size: int
    status: int | None
    """The response's status, or None when the server closed the connection without one."""
    answer: str | None
    """With 200: the ``resume`` event's data, ``repr(last_event_id(request))``."""
    complete: bool


@dataclass
class EndlessBodyResult:
    sent: int
    """Request body bytes sent (chunked, never terminated)."""
    server_read: int
    """Bytes the server process read meanwhile (all it read, from /proc): at least `sent`,
    so the body did reach the server, which read it and dropped it."""
    seconds: float
    events_during: int
    """Events the same connection received while its body was being sent."""
    event_gaps: int
    """Events missing from that stream's id sequence (it must be none)."""
    rss_growth: int
    """The server's highest RSS during the upload minus its RSS before."""
    cleanup: Cleanups


@dataclass
class HostileResult:
    last_event_ids: list[LastEventIdOutcome]
    endless_body: EndlessBodyResult
    healthy_gaps: int
    fresh_request_status: int
    baseline: Snapshot
    rss_peak: int
    after: Snapshot
    log: str


async def _send_last_event_id(port: int, value: bytes) -> tuple[int | None, str | None, bool]:
    """GET /last-event-id with `value` as the raw header: (status, event data, complete)."""
    # The head is written by hand: these values are what a well-behaved client (h11) refuses
    # to send. The response is read as any other.
    exchange = Exchange("GET", "/last-event-id", [(b"Host", b"127.0.0.1")])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b""
    try:
        head = b"GET /last-event-id HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: "
        writer.write(head + value + b"\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(10):
            while not exchange.complete:
                body += exchange.receive(await reader.read(1 << 16))
    except (ConnectionError, ValueError):
        # Closed or reset without a response, or cut: IncompleteResponse is a ConnectionError.
        if exchange.status is None:
            return None, None, False
    finally:
        writer.close()
    data = None
    for line in body.split(b"\r\n"):
        if line.startswith(b"data: "):
            data = line[len(b"data: ") :].decode()
    return exchange.status, data, exchange.complete


async def _endless_body(port: int, total: int, chunk: int) -> EndlessBodyResult:
    """POST a chunked body that never ends (`total` bytes, then silence) to a ticking stream,
    reading its events all along."""
    response = await open_request(
        port,
        "/ticks?id=upload&interval=0.01",
        method="POST",
        headers=(("Accept", "text/event-stream"), ("Transfer-Encoding", "chunked")),
    )
    reader = TickReader(response)
    piece = b"u" * chunk
    sent = 0
    try:
        await reader.collect(1, 10)
        before = len(reader.ids)
        started = time.monotonic()
        while sent < total:
            await asyncio.wait_for(response.send_body(piece), 30)
            sent += chunk
        seconds = time.monotonic() - started
        events_during = len(reader.ids) - before
        await reader.collect(5, 10)  # the body stops, the stream goes on
        ids = reader.ids
    finally:
        reader.stop()
    return EndlessBodyResult(
        sent=sent,
        server_read=0,
        seconds=seconds,
        events_during=events_during,
        event_gaps=id_gaps(ids),
        rss_growth=0,
        cleanup=Cleanups(0, 0, 0),
    )


def hostile_input(
    work_dir: Path,
    *,
    body_bytes: int = 256 * MIB,
    body_chunk: int = 64 * 1024,
    uvicorn_args: Sequence[str] = UVICORN_ARGS,
) -> HostileResult:
    """Hostile ``Last-Event-ID`` headers (`HOSTILE_LAST_EVENT_IDS`) and a client that sends a
    request body without end (`body_bytes` of it, in `body_chunk` pieces), each against one
    uvicorn while a healthy stream ticks."""

    raise_fd_limit()
    with run_server("uvicorn", APP_DIR, work_dir, app=APP, extra_args=uvicorn_args) as server:

        async def scenario() -> HostileResult:
            healthy = TickReader(await open_request(server.port, "/ticks?id=healthy"))
            try:
                await healthy.collect(5, 10)
                baseline = await snapshot(server)
                rss_peak = baseline.rss
                outcomes = []
                for label, value in HOSTILE_LAST_EVENT_IDS:
                    status, answer, complete = await _send_last_event_id(server.port, value)
                    rss_peak = max(rss_peak, server.rss_bytes())
                    outcomes.append(LastEventIdOutcome(label, len(value), status, answer, complete))
                before_upload = server.rss_bytes()
                upload_peak = before_upload
                read_before = bytes_read(server.pid)
                upload = asyncio.create_task(_endless_body(server.port, body_bytes, body_chunk))
                while not upload.done():
                    upload_peak = max(upload_peak, server.rss_bytes())
                    await asyncio.sleep(0.05)
                endless = upload.result()
                endless.rss_growth = upload_peak - before_upload
                # What the kernel still held when the client stopped is read moments later.
                await wait_until(lambda: bytes_read(server.pid) - read_before >= endless.sent, 5)
                endless.server_read = bytes_read(server.pid) - read_before
                rss_peak = max(rss_peak, upload_peak)
                await wait_until(lambda: server.count("cleanup upload") >= 1, 10)
                endless.cleanup = Cleanups.of(server.records(), ["upload"])
                await healthy.collect(5, 10)
                fresh_status, _ = await get_text(server.port, "/health")

                async def settled() -> bool:
                    return (await snapshot(server)).tasks <= baseline.tasks

                await async_wait_until(settled, 10)
                after = await snapshot(server)
                ids_seen = healthy.ids
            finally:
                healthy.stop()
            return HostileResult(
                last_event_ids=outcomes,
                endless_body=endless,
                healthy_gaps=id_gaps(ids_seen),
                fresh_request_status=fresh_status,
                baseline=baseline,
                rss_peak=rss_peak,
                after=after,
                log=server.log(),
            )

        return asyncio.run(scenario())


# -- the parser, fed hostile streams --------------------------------------------------------------


@dataclass
class ParserResult:
    label: str
    offered: int
    """Bytes the hostile stream would have fed."""
    fed: int
    """Bytes fed before the parser refused (all of them if it never did)."""
    chunk: int
    max_buffer_size: int
    refused: bool
    """Whether the parser raised `BufferLimitExceeded`."""
    events: int
    """Events the parser returned (each dropped at once, as a client that handles them)."""
    seconds: float
    peak: int
    """tracemalloc's peak of memory allocated while feeding, in bytes."""


def _pieces(total: int, chunk: int, make: Callable[[int], bytes]) -> Iterator[bytes]:
    """`total` bytes of a stream, `chunk` at a time: make(offset) gives the next piece."""
    offset = 0
    while offset < total:
        piece = make(offset)[: min(chunk, total - offset)]
        offset += len(piece)
        yield piece


def hostile_streams(total: int, chunk: int) -> dict[str, Iterator[bytes]]:
    """Streams of `total` bytes that a hostile or broken server could send, in `chunk` pieces."""
    line = b"x" * chunk
    data_line = b"data: " + b"y" * max(1, chunk - 7) + b"\n"
    event_size = 256 * 1024
    event = b"data: " + b"z" * (event_size - 8) + b"\n\n"
    noise = random.Random(7).randbytes(1 << 20)
    return {
        "one line without end": _pieces(
            total, chunk, lambda offset: b"data: " + line if offset == 0 else line
        ),
        "data lines, never a blank line": _pieces(total, chunk, lambda offset: data_line),
        "256 KiB events": _pieces(
            total,
            chunk,
            lambda offset: event[offset % event_size :] + event[: offset % event_size],
        ),
        "random bytes": _pieces(
            total, chunk, lambda offset: noise[offset % len(noise) :][:chunk] or noise[:chunk]
        ),
    }


def feed_parser(
    label: str, pieces: Iterator[bytes], *, offered: int, chunk: int, max_buffer_size: int
) -> ParserResult:
    """Feed `pieces` to a fresh `EventParser` under tracemalloc until they end or the parser
    refuses; the figures."""
    parser = EventParser(max_buffer_size=max_buffer_size)
    fed = events = 0
    refused = False
    tracemalloc.start()
    started = time.perf_counter()
    try:
        for piece in pieces:
            fed += len(piece)
            events += len(parser.feed(piece))
    except BufferLimitExceeded as exc:
        refused = True
        events += len(exc.events)
    finally:
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return ParserResult(label, offered, fed, chunk, max_buffer_size, refused, events, seconds, peak)


def parser_under_hostile_streams(
    total: int = 100 * MIB, *, chunk: int = 64 * 1024, max_buffer_size: int = MIB
) -> list[ParserResult]:
    """Every stream of `hostile_streams` through a parser bounded to `max_buffer_size`."""
    return [
        feed_parser(label, pieces, offered=total, chunk=chunk, max_buffer_size=max_buffer_size)
        for label, pieces in hostile_streams(total, chunk).items()
    ]


def parser_long_line_cost(
    chunks: Sequence[int] = (65536, 16384, 4096), max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE
) -> list[ParserResult]:
    """One line without end fed until the parser refuses it (at its default limit, 16 MiB), in
    chunks of each size: what a hostile server costs a client's CPU."""
    total = max_buffer_size + max(chunks) + 16
    results = []
    for chunk in chunks:
        pieces = hostile_streams(total, chunk)["one line without end"]
        results.append(
            feed_parser(
                f"{chunk} B chunks",
                pieces,
                offered=total,
                chunk=chunk,
                max_buffer_size=max_buffer_size,
            )
        )
    return results
