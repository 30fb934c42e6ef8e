"""Streaming through a real uvicorn server: our binding against sse-starlette 3.7, FastAPI's
native `fastapi.sse` and raw ASGI.

Each library runs in its own uvicorn process (``--loop uvloop --http httptools``, no access log,
127.0.0.1, a free port), started in its own process group and killed by group at the end,
whatever happens. The apps are in `_stream_apps.py`. The client is this process: a raw asyncio
protocol that counts bytes and ``data: `` prefixes in whole reads (C-speed ``bytes.count``)
and never parses events one by one, so the server is the bottleneck. The table shows how busy
the client was.

Measures (every library gets the same events and writes the same bytes):

1. One stream, a producer that never waits: N tiny events ``data: <n>``; events/s.
2. One stream, a producer that awaits ``asyncio.sleep(0)`` after each event (coalescing cannot
   help); events/s.
3. Burst, events already waiting: an anyio memory object stream holding all N events (sender
   closed), and an async generator over N ready events; events/s.
4. 1,000 idle connections: server RSS growth and asyncio tasks per connection, with Starlette's
   plain `StreamingResponse` over the same waiting producer as the reference.
5. 50 concurrent streams, producers as in 1 and in 2: events/s of all the streams together.
6. Drop-in: sse-starlette's own code (defaults, CRLF, a ``ServerSentEvent(data=...)`` built per
   event), served by sse-starlette and by our binding with only the import changed, with the
   producers of 1 and of 2; events/s.

It prints a table per measure (medians over the runs, ratios of ours against each peer
measured in the same run) and the SPEC targets as met or missed. It reports,
it never asserts: it exits 0 whether or not the targets are met, and 1 only when it could not
measure fairly (a server wrote other bytes than the others, or a stream came back short).

    uv run python benchmarks/streaming.py            # median of 3 runs, about 3 minutes
    uv run python benchmarks/streaming.py --quick    # 1 run, a tenth of the events: ~30 s
    uv run python benchmarks/streaming.py --runs 5 --json streaming.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO, TypeVar

import uvloop
from _stream_apps import raise_fd_limit

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

PlanT = TypeVar("PlanT")
ResultsT = TypeVar("ResultsT")

BENCHMARKS: Final = Path(__file__).resolve().parent

OURS: Final = "ours"
STARLETTE: Final = "sse-starlette"
FASTAPI: Final = "fastapi.sse"
RAW: Final = "raw ASGI"
LIBRARIES: Final = (OURS, STARLETTE, FASTAPI, RAW)
# The drop-in pair: sse-starlette's code (`_stream_apps.dropin_app`) run by each library.
DROPIN: Final = "drop-in"
DROPIN_STARLETTE: Final = "sse-starlette (drop-in code)"
DROPIN_LIBRARIES: Final = (DROPIN, DROPIN_STARLETTE)
# The idle measure's reference: Starlette's plain StreamingResponse, no SSE (idle only).
STREAMING_RESPONSE: Final = "StreamingResponse"
IDLE_LIBRARIES: Final = (*LIBRARIES, STREAMING_RESPONSE)
LABELS: Final = {
    OURS: "ours (sse-starlette-binding)",
    STARLETTE: "sse-starlette 3.7",
    FASTAPI: "fastapi.sse (FastAPI native)",
    RAW: "raw ASGI (1 message/event)",
    DROPIN: "drop-in: sse-starlette's code, import changed",
    DROPIN_STARLETTE: "sse-starlette 3.7, the same code",
    STREAMING_RESPONSE: "reference: Starlette StreamingResponse",
}
FACTORIES: Final = {
    OURS: "ours_app",
    STARLETTE: "sse_starlette_app",
    FASTAPI: "fastapi_app",
    RAW: "raw_app",
    DROPIN: "binding_dropin_app",
    DROPIN_STARLETTE: "sse_starlette_dropin_app",
    STREAMING_RESPONSE: "streaming_response_app",
}
# The line separator each library's events end with: the drop-in code keeps sse-starlette's
# default, CRLF; the other servers are all given (or only know) LF.
SEPARATORS: Final = {
    library: b"\r\n" if library in DROPIN_LIBRARIES else b"\n" for library in FACTORIES
}

# SPEC, "Performance targets".
ONE_STREAM_VS_STARLETTE: Final = 2.0  # at least 2x sse-starlette's events/s
ONE_STREAM_VS_RAW: Final = 0.85  # within 15% of raw ASGI
DROPIN_FAST_VS_STARLETTE: Final = 5.0  # sse-starlette's code, import changed, never waiting
DROPIN_YIELD_VS_STARLETTE: Final = 1.5  # the same, awaiting after each event
BURST_VS_STARLETTE: Final = 10.0  # at least 10x sse-starlette
# Idle memory per connection at most 10% above Starlette's plain StreamingResponse's.
IDLE_MEMORY_VS_STREAMING_RESPONSE: Final = 1.10
IDLE_TASKS_MAX: Final = 2.0  # tasks per connection, the server's request task included

DEFAULT_RUNS: Final = 3
QUICK_RUNS: Final = 1
DEFAULT_CONNECTIONS: Final = 1000
QUICK_CONNECTIONS: Final = 1000
CONCURRENT_STREAMS: Final = 50
CHECK_EVENTS: Final = 5  # events per mode in the same-bytes check before timing
STREAM_TIMEOUT: Final = 300.0  # seconds: a stream that takes longer is a failure
READ_SIZE: Final = 1 << 18


@dataclass(frozen=True, slots=True)
class StreamMeasure:
    """Timed streams: a mode of `_stream_apps`, how many events in all, over how many streams."""

    key: str
    number: str
    title: str
    mode: str
    events: int
    quick_events: int
    # Minimum ours/peer events/s ratios, when this measure is a SPEC target.
    vs_starlette: float | None = None
    vs_raw: float | None = None
    target_name: str = ""
    streams: int = 1
    """Concurrent streams, each of ``events // streams`` events, timed together."""
    libraries: tuple[str, ...] = LIBRARIES
    """The servers that run it: first the one judged, then sse-starlette (the `vs_starlette`
    baseline), then any other peers. The drop-in measures run `DROPIN` and `DROPIN_STARLETTE`."""


STREAM_MEASURES: Final = (
    StreamMeasure(
        "fast",
        "1",
        "One stream, a producer that never waits (async generator)",
        "fast",
        500_000,
        50_000,
        ONE_STREAM_VS_STARLETTE,
        ONE_STREAM_VS_RAW,
        "one stream",
    ),
    StreamMeasure(
        "yield",
        "2",
        "One stream, a producer that awaits asyncio.sleep(0) after each event",
        "yield",
        100_000,
        10_000,
        ONE_STREAM_VS_STARLETTE,
        ONE_STREAM_VS_RAW,
        "one stream, yielding producer",
    ),
    StreamMeasure(
        "burst-stream",
        "3a",
        "Burst: all events already in an anyio memory object stream (sender closed)",
        "burst-stream",
        200_000,
        20_000,
        BURST_VS_STARLETTE,
        None,
        "burst, memory stream",
    ),
    StreamMeasure(
        "burst-gen",
        "3b",
        "Burst: an async generator over events that are all ready",
        "burst-gen",
        200_000,
        20_000,
        BURST_VS_STARLETTE,
        None,
        "burst, async generator",
    ),
    StreamMeasure(
        "concurrent-fast",
        "5a",
        f"{CONCURRENT_STREAMS} concurrent streams, producers that never wait",
        "fast",
        500_000,
        50_000,
        streams=CONCURRENT_STREAMS,
    ),
    StreamMeasure(
        "concurrent-yield",
        "5b",
        f"{CONCURRENT_STREAMS} concurrent streams, producers that await asyncio.sleep(0) "
        "after each event",
        "yield",
        100_000,
        10_000,
        streams=CONCURRENT_STREAMS,
    ),
    StreamMeasure(
        "dropin-fast",
        "6a",
        "Drop-in: sse-starlette's code (ServerSentEvent per event, CRLF), producer never waits",
        "fast",
        500_000,
        50_000,
        DROPIN_FAST_VS_STARLETTE,
        target_name="drop-in, producer that never waits",
        libraries=DROPIN_LIBRARIES,
    ),
    StreamMeasure(
        "dropin-yield",
        "6b",
        "Drop-in: sse-starlette's code (ServerSentEvent per event, CRLF), asyncio.sleep(0) "
        "after each event",
        "yield",
        100_000,
        10_000,
        DROPIN_YIELD_VS_STARLETTE,
        target_name="drop-in, yielding producer",
        libraries=DROPIN_LIBRARIES,
    ),
)
IDLE: Final = "idle"
MEASURE_KEYS: Final = (*(m.key for m in STREAM_MEASURES), IDLE)


class MeasurementError(Exception):
    """The benchmark could not measure fairly (wrong bytes, short stream, dead server)."""


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One uvicorn process serving one library's app, in its own process group.

    Use it as a context manager: leaving the block always kills the whole group.
    """

    def __init__(self, library: str, app: str | None = None) -> None:
        self.library = library
        # The ``module:factory`` uvicorn loads from benchmarks/; by default the library's
        # factory in `_stream_apps` (other scripts, fastapi_streaming.py, name their own).
        self.app = app or f"_stream_apps:{FACTORIES[library]}"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log: TextIO | None = None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            self.app,
            "--app-dir",
            str(BENCHMARKS),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ]

    def __enter__(self) -> Server:
        for _attempt in range(3):
            self.port = free_port()
            self.log = tempfile.TemporaryFile("w+")
            self.process = subprocess.Popen(
                self.command(),
                stdout=self.log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own session and process group
            )
            try:
                self.wait_ready()
            except MeasurementError as exc:
                output = self.stop()
                if "address already in use" in output.lower():
                    continue  # another process took the port between free_port() and uvicorn
                raise MeasurementError(f"{self.library} server: {exc}:\n{output}") from None
            except BaseException:
                self.stop()
                raise
            return self
        raise MeasurementError(f"{self.library} server: no free port after 3 attempts")

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise MeasurementError("server exited")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise MeasurementError("server did not accept connections in time")

    def stop(self) -> str:
        """Kill the server's process group (politely first) and return its output."""
        process, self.process = self.process, None
        if process is not None:
            self.kill_group(process, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=3)
            # Anything left in the group (the server ignoring SIGTERM, a stray child) goes now.
            self.kill_group(process, signal.SIGKILL)
            process.wait()
        output = ""
        if self.log is not None:
            self.log.seek(0)
            output = self.log.read()
            self.log.close()
            self.log = None
        return output

    @staticmethod
    def kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    def rss_bytes(self) -> int:
        """The server's resident set size, from /proc/PID/status."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise MeasurementError("no VmRSS in /proc/PID/status")


# -- the client ---------------------------------------------------------------------------------


def request_bytes(path: str, *, close: bool = False) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{connection}\r\n".encode()


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status code and (lower-cased) headers of a response head."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def dechunk(body: bytes) -> bytes:
    """The payload of a complete chunked body (small bodies only: this is slow Python)."""
    out: list[bytes] = []
    position = 0
    while True:
        end = body.index(b"\r\n", position)
        size = int(body[position:end], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        position = end + 2 + size + 2


async def get(port: int, path: str) -> tuple[int, bytes]:
    """A plain GET on a fresh connection: (status, payload), the chunked framing removed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request_bytes(path, close=True))
        raw = await asyncio.wait_for(reader.read(-1), 30)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status, headers = parse_head(head)
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return status, body


async def get_text(port: int, path: str) -> str:
    status, body = await get(port, path)
    if status != 200:
        raise MeasurementError(f"GET {path}: status {status}")
    return body.decode()


class StreamCounter(asyncio.Protocol):
    """Reads one chunked event stream: counts bytes and ``data: `` prefixes, finds the end.

    Work per read, never per event: a ``bytes.count`` over the read (plus the last few bytes of
    the previous one, so that a prefix split across reads is counted once).
    """

    PREFIX: Final = b"data: "
    END: Final = b"\r\n0\r\n\r\n"  # the last chunk's CRLF, then the zero-size chunk
    TAIL: Final = 8

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        self.head = b""
        self.in_body = False
        self.events = 0
        self.bytes = 0
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status, headers = parse_head(self.head[:end])
            data, self.head = self.head[end + 4 :], b""
            if status != 200 or headers.get("transfer-encoding") != "chunked":
                self.finish(MeasurementError(f"status {status}, headers {headers}"))
                return
            self.in_body = True
            # The terminator check below needs the CRLF that precedes it: the head's.
            self.tail = b"\r\n"
        self.bytes += len(data)
        joined = self.tail + data
        self.events += joined.count(self.PREFIX) - self.tail.count(self.PREFIX)
        if joined.endswith(self.END):
            self.finish(None)
        self.tail = joined[-self.TAIL :]

    def connection_lost(self, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, Exception):
            self.finish(exc)  # SystemExit or KeyboardInterrupt: the benchmark is stopping
        else:
            self.finish(MeasurementError(f"connection closed before the stream ended ({exc!r})"))

    def finish(self, error: BaseException | None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


def payload_bytes(events: int, sep: bytes = b"\n") -> int:
    """The length of ``data: 0`` ... ``data: <events-1>``, each line and event ended by `sep`,
    framing excluded."""
    total, digits, low = 0, 1, 0
    while low < events:
        high = min(events, 10**digits)
        total += (high - low) * (len(b"data: ") + 2 * len(sep) + digits)
        low, digits = high, digits + 1
    return total


def expected_events(events: int, sep: bytes = b"\n") -> bytes:
    """The exact bytes every library writes for `events` events (chunked framing removed)."""
    return b"".join(b"data: %d%s%s" % (i, sep, sep) for i in range(events))


@dataclass(frozen=True, slots=True)
class StreamSample:
    """One timed stream."""

    seconds: float
    events: int
    wire_bytes: int
    payload_bytes: int
    """The events' own bytes, chunked framing excluded (what every library must write)."""
    server_cpu: float
    client_cpu: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def framing_per_event(self) -> float:
        """Chunked-encoding bytes per event: about 5 when every event is its own message."""
        return (self.wire_bytes - self.payload_bytes) / self.events

    @property
    def server_us_per_event(self) -> float:
        return self.server_cpu / self.events * 1e6

    @property
    def client_busy(self) -> float:
        return self.client_cpu / self.seconds


async def time_stream(
    port: int, mode: str, events: int, streams: int = 1, sep: bytes = b"\n"
) -> StreamSample:
    """Stream `events` events of `mode`, split over `streams` concurrent streams, once; wall
    time from the requests to the last byte of the last stream. `sep` ends the events' lines."""
    each = events // streams
    await get_text(port, f"/debug/prepare?n={each}")
    request = request_bytes(f"/stream?mode={mode}&n={each}")
    return await time_request(port, request, each, payload_bytes(each, sep), mode, streams=streams)


async def connect(port: int, protocol: asyncio.Protocol) -> asyncio.Transport:
    """A connection to the server on 127.0.0.1 that `protocol` reads."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(lambda: protocol, "127.0.0.1", port)
    return transport


async def time_request(
    port: int, request: bytes, events: int, payload: int, label: str, *, streams: int = 1
) -> StreamSample:
    """Send `request` (a whole HTTP/1.1 request) on `streams` connections at once and time
    their event streams, each of `events` events and `payload` bytes without the chunked
    framing; the sample counts all the streams' events together.

    Wall time runs from writing the requests to reading the last chunked terminator; the
    server's CPU comes from its ``/debug/cpu`` before and after. Each stream's count of
    ``data: `` prefixes must come out exactly `events` (`label` names the stream in the error
    if it does not).
    """
    cpu_before = float(await get_text(port, "/debug/cpu"))
    loop = asyncio.get_running_loop()
    counters = [StreamCounter(loop.create_future()) for _ in range(streams)]
    transports: list[asyncio.Transport] = []
    try:
        for counter in counters:
            transports.append(await connect(port, counter))
        client_before = time.process_time()
        start = time.perf_counter()
        for transport in transports:
            transport.write(request)
        await asyncio.wait_for(
            asyncio.gather(*(counter.done for counter in counters)), STREAM_TIMEOUT
        )
        seconds = time.perf_counter() - start
        client_cpu = time.process_time() - client_before
    finally:
        for transport in transports:
            transport.close()
    cpu_after = float(await get_text(port, "/debug/cpu"))
    for counter in counters:
        if counter.events != events:
            raise MeasurementError(f"{label}: expected {events} events, counted {counter.events}")
    return StreamSample(
        seconds,
        events * streams,
        sum(counter.bytes for counter in counters),
        payload * streams,
        cpu_after - cpu_before,
        client_cpu,
    )


async def check_bytes(port: int, library: str) -> None:
    """Every mode must write exactly the same bytes in every library: the same work (the
    drop-in pair writes sse-starlette's default CRLF, the others LF)."""
    expected = expected_events(CHECK_EVENTS, SEPARATORS[library])
    for measure in STREAM_MEASURES:
        if library not in measure.libraries:
            continue
        status, body = await get(port, f"/stream?mode={measure.mode}&n={CHECK_EVENTS}")
        if status != 200 or body != expected:
            raise MeasurementError(
                f"{library} {measure.mode}: status {status}, body {body!r}, expected {expected!r}"
            )


@dataclass(frozen=True, slots=True)
class IdleSample:
    """One round of idle connections."""

    connections: int
    rss_growth: int
    tasks_before: int
    tasks_after: int
    released: bool

    @property
    def bytes_per_connection(self) -> float:
        return self.rss_growth / self.connections

    @property
    def tasks_per_connection(self) -> float:
        return (self.tasks_after - self.tasks_before) / self.connections


async def open_idle(port: int) -> asyncio.StreamWriter:
    """One idle stream, open once its response head has arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes("/idle"))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    status, _ = parse_head(head[:-4])
    if status != 200:
        raise MeasurementError(f"/idle: status {status}")
    return writer


async def open_many(port: int, count: int, batch: int = 100) -> list[asyncio.StreamWriter]:
    writers: list[asyncio.StreamWriter] = []
    for first in range(0, count, batch):
        size = min(batch, count - first)
        writers += await asyncio.gather(*(open_idle(port) for _ in range(size)))
    return writers


async def close_all(port: int, writers: list[asyncio.StreamWriter], tasks: int) -> bool:
    """Close the connections; True once the server is back to `tasks` tasks (10 s at most)."""
    for writer in writers:
        writer.close()
    for writer in writers:
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if int(await get_text(port, "/debug/tasks")) <= tasks:
            return True
        await asyncio.sleep(0.1)
    return False


async def measure_idle(server: Server, connections: int) -> IdleSample:
    """Server RSS growth and asyncio tasks added by `connections` idle streams."""
    port = server.port
    # Warm up: the first streams import and cache things that later ones reuse, and start
    # what a library starts once per event loop (sse-starlette's shutdown watcher task).
    for writer in await open_many(port, 50):
        writer.close()
    await asyncio.sleep(0.5)
    tasks_before = int(await get_text(port, "/debug/tasks"))
    rss_before = server.rss_bytes()
    writers = await open_many(port, connections)
    try:
        await asyncio.sleep(0.5)  # let every stream reach its idle wait
        tasks_after = int(await get_text(port, "/debug/tasks"))
        rss_after = server.rss_bytes()
    finally:
        released = await close_all(port, writers, tasks_before)
    return IdleSample(connections, rss_after - rss_before, tasks_before, tasks_after, released)


# -- running ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    """Every sample, by measure and library."""

    streams: dict[tuple[str, str], list[StreamSample]] = field(default_factory=dict)
    idle: dict[str, list[IdleSample]] = field(default_factory=dict)

    def median_rate(self, key: str, library: str) -> float | None:
        samples = self.streams.get((key, library))
        return statistics.median(s.events_per_second for s in samples) if samples else None


@dataclass(frozen=True, slots=True)
class Plan:
    runs: int
    quick: bool
    connections: int
    measures: tuple[str, ...]

    def events(self, measure: StreamMeasure) -> int:
        return measure.quick_events if self.quick else measure.events


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_all(plan: Plan, runner: asyncio.Runner) -> Results:
    """Take `plan.runs` runs; in each, every library in turn, the order rotating per run."""
    run = runner.run
    results = Results()
    chosen = [m for m in STREAM_MEASURES if m.key in plan.measures]
    libraries = [
        library
        for library in (*LIBRARIES, *DROPIN_LIBRARIES, STREAMING_RESPONSE)
        if any(library in m.libraries for m in chosen)
        or (IDLE in plan.measures and library in IDLE_LIBRARIES)
    ]
    for index in range(plan.runs):
        shift = index % len(libraries)
        for library in libraries[shift:] + libraries[:shift]:
            stream_measures = [m for m in chosen if library in m.libraries]
            sep = SEPARATORS[library]
            if stream_measures:
                with Server(library) as server:
                    run(check_bytes(server.port, library))
                    for measure in stream_measures:
                        events = plan.events(measure)
                        # A short warm-up stream of the same mode, then the timed one.
                        run(time_stream(server.port, measure.mode, min(events, 2000), sep=sep))
                        sample = run(
                            time_stream(server.port, measure.mode, events, measure.streams, sep)
                        )
                        results.streams.setdefault((measure.key, library), []).append(sample)
                        progress(
                            f"run {index + 1}/{plan.runs} {library:<13} {measure.key:<13} "
                            f"{sample.events_per_second:>12,.0f} events/s "
                            f"(server {sample.server_us_per_event:.2f} us/event, "
                            f"client CPU {sample.client_busy:.0%})"
                        )
            if IDLE in plan.measures and library in IDLE_LIBRARIES:
                # A fresh server, so that the streams above leave nothing behind in its memory.
                with Server(library) as server:
                    idle = run(measure_idle(server, plan.connections))
                    results.idle.setdefault(library, []).append(idle)
                    progress(
                        f"run {index + 1}/{plan.runs} {library:<13} idle         "
                        f"{idle.bytes_per_connection:>12,.0f} bytes/conn, "
                        f"{idle.tasks_per_connection:.2f} tasks/conn"
                        + ("" if idle.released else ", NOT released after close")
                    )
    return results


# -- reporting ----------------------------------------------------------------------------------


def environment() -> dict[str, str]:
    info = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    for distribution in (
        "uvicorn",
        "uvloop",
        "httptools",
        "sse-starlette",
        "starlette",
        "anyio",
        "fastapi",
        "pydantic",
        "sse-starlette-binding",
        "sse-core",
    ):
        info[distribution] = importlib.metadata.version(distribution)
    info["packages at"] = source_revision()
    info["cpus"] = str(os.cpu_count())
    info["platform"] = platform.platform()
    return info


def git(*args: str) -> str:
    """A read-only git command's output in the workspace (no optional locks: others may be
    committing); CalledProcessError or OSError if it fails."""
    return subprocess.run(
        ["git", "--no-optional-locks", "-C", str(BENCHMARKS.parent), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def source_revision() -> str:
    """The git commit the packages were measured at, marked when they have local changes."""
    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        changed = git("status", "--porcelain", "--", "packages").strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}{' + local changes' if changed else ''}"


def source_fingerprint() -> str:
    """A hash of the packages' source files: compared before and after the runs."""
    digest = hashlib.sha256()
    for path in sorted(BENCHMARKS.parent.glob("packages/*/src/**/*.py")):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned first column, right-aligned others."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(r) for r in rows)]


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    met: bool
    detail: str

    def text(self) -> str:
        return f"{'met' if self.met else 'MISSED'}: {self.name} ({self.detail})"


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def median_of(values: Sequence[float]) -> float:
    return statistics.median(values)


SAMPLE_COLUMNS: Final = (
    "library",
    "events/s",
    "server CPU us/event",
    "wall s",
    "client CPU",
    "framing bytes/event",
)


SAMPLE_COLUMNS_NOTE: Final = (
    "server CPU us/event = server process CPU time over the stream / events; "
    "client CPU = this process's CPU time / wall time (the client's core); "
    "framing bytes/event = chunked-encoding bytes on the wire / events: 5 or 6 "
    "when each event is its own body message, near 0 when writes are coalesced"
)
"""What `SAMPLE_COLUMNS` mean: a note for the `report_header` of a report that has them."""


def sample_row(label: str, samples: Sequence[StreamSample]) -> tuple[str, ...]:
    """One library's row of a stream table: the medians of its samples (`SAMPLE_COLUMNS`)."""
    return (
        label,
        f"{median_of([s.events_per_second for s in samples]):,.0f}",
        f"{median_of([s.server_us_per_event for s in samples]):.2f}",
        f"{median_of([s.seconds for s in samples]):.3f}",
        f"{median_of([s.client_busy for s in samples]):.0%}",
        f"{median_of([s.framing_per_event for s in samples]):.2f}",
    )


def sample_json(sample: StreamSample) -> dict[str, float]:
    """One stream sample as the ``--json`` file records it."""
    return {
        "events": sample.events,
        "wire_bytes": sample.wire_bytes,
        "seconds": sample.seconds,
        "events_per_second": sample.events_per_second,
        "server_us_per_event": sample.server_us_per_event,
        "client_busy": sample.client_busy,
    }


def report_header(
    title: str, env: Mapping[str, str], notes: Sequence[str], *, code_changed: bool
) -> list[str]:
    """The lines a report starts with: a warning if the code changed during the run, what was
    measured, the environment, and the `notes` (what was measured, what the columns mean)."""
    warning = [
        "WARNING: the packages' source files changed while this ran, "
        "so these results mix versions: run again on a quiet tree"
    ]
    return [
        *(warning if code_changed else []),
        title,
        " | ".join(f"{key} {value}" for key, value in env.items()),
        *notes,
        "",
    ]


def stream_report(
    measure: StreamMeasure, results: Results, plan: Plan
) -> tuple[list[str], list[Verdict]]:
    events = plan.events(measure)
    split = f" ({events // measure.streams:,} per stream)" if measure.streams > 1 else ""
    out = [
        f"{measure.number}. {measure.title}: {events:,} events{split}, median of {plan.runs} run(s)"
    ]
    rows = []
    rates: dict[str, float] = {}
    for library in measure.libraries:
        samples = results.streams.get((measure.key, library), [])
        if not samples:
            continue
        rates[library] = median_of([s.events_per_second for s in samples])
        rows.append(sample_row(LABELS[library], samples))
    out += table(SAMPLE_COLUMNS, rows)
    subject, *peers = measure.libraries
    ours = rates.get(subject)
    ratios = {peer: ours / rates[peer] if ours and peer in rates else None for peer in peers}
    out.append("   ".join(f"{subject} / {peer}: {ratio_text(ratios[peer])}" for peer in peers))
    vs_starlette, vs_raw = ratios[peers[0]], ratios.get(RAW)
    verdicts = []
    if measure.vs_starlette is not None and vs_starlette is not None:
        same_code = " (the same code)" if subject == DROPIN else ""
        verdicts.append(
            Verdict(
                f"{measure.target_name}: >= {measure.vs_starlette:g}x sse-starlette{same_code}",
                vs_starlette >= measure.vs_starlette,
                f"{vs_starlette:.2f}x",
            )
        )
    if measure.vs_raw is not None and vs_raw is not None:
        verdicts.append(
            Verdict(
                f"{measure.target_name}: within 15% of raw ASGI (>= {measure.vs_raw:g}x)",
                vs_raw >= measure.vs_raw,
                f"{vs_raw:.2f}x",
            )
        )
    out += [f"  {verdict.text()}" for verdict in verdicts]
    return out, verdicts


def idle_report(results: Results, plan: Plan) -> tuple[list[str], list[Verdict]]:
    out = [
        f"4. {plan.connections:,} idle connections (producer waits on an anyio.Event; ping 15 s), "
        f"median of {plan.runs} run(s)"
    ]
    per_conn: dict[str, float] = {}
    tasks: dict[str, float] = {}
    released: dict[str, bool] = {}
    for library in IDLE_LIBRARIES:
        samples = results.idle.get(library, [])
        if samples:
            per_conn[library] = median_of([s.bytes_per_connection for s in samples])
            tasks[library] = median_of([s.tasks_per_connection for s in samples])
            released[library] = all(s.released for s in samples)
    # Every row's memory against the reference's, when the reference was measured.
    reference = (
        per_conn.get(STREAMING_RESPONSE) if per_conn.get(STREAMING_RESPONSE, 0) > 0 else None
    )
    header = ["library", "RSS growth bytes/conn", "KiB/conn", "tasks/conn", "tasks released"]
    if reference is not None:
        header.append("/ StreamingResponse")
    rows = [
        (
            LABELS[library],
            f"{per_conn[library]:,.0f}",
            f"{per_conn[library] / 1024:.1f}",
            f"{tasks[library]:.2f}",
            "yes" if released[library] else "NO",
            *([f"{per_conn[library] / reference:.2f}x"] if reference is not None else []),
        )
        for library in per_conn
    ]
    out += table(header, rows)
    out.append(
        "  tasks/conn = (tasks with the streams open - tasks before) / connections; it counts "
        "uvicorn's own per-request task (the one running the app). The raw ASGI app runs no "
        "producer. The reference, Starlette's plain StreamingResponse, streams the same "
        "waiting producer without SSE. 'tasks released': back to the count before, within "
        "10 s of closing."
    )
    verdicts = []
    if reference is not None and OURS in per_conn:
        ratio = per_conn[OURS] / reference
        peers = "; ".join(
            f"{library} {per_conn[library] / reference:.2f}x"
            for library in (STARLETTE, FASTAPI)
            if library in per_conn
        )
        out.append(
            f"memory per connection / StreamingResponse's: ours {ratio:.2f}x"
            + (f"; {peers}" if peers else "")
        )
        verdicts.append(
            Verdict(
                "idle memory per connection within 10% of Starlette's StreamingResponse "
                f"(<= {IDLE_MEMORY_VS_STREAMING_RESPONSE:.2f}x)",
                ratio <= IDLE_MEMORY_VS_STREAMING_RESPONSE,
                f"{per_conn[OURS]:,.0f} vs {reference:,.0f} bytes/conn, {ratio:.2f}x",
            )
        )
    if OURS in tasks:
        verdicts.append(
            Verdict(
                f"<= {IDLE_TASKS_MAX:g} tasks per idle connection",
                tasks[OURS] <= IDLE_TASKS_MAX,
                f"{tasks[OURS]:.2f}; sse-starlette {tasks.get(STARLETTE, float('nan')):.2f}",
            )
        )
    out += [f"  {verdict.text()}" for verdict in verdicts]
    return out, verdicts


def report(results: Results, plan: Plan, *, code_changed: bool = False) -> str:
    out = report_header(
        "Streaming through uvicorn (--loop uvloop --http httptools), one server process per "
        "library, client in this process",
        environment(),
        [
            "events are `data: <n>` LF-separated (identical bytes from all four, checked; the "
            "drop-in pair writes sse-starlette's default CRLF, identical between the two); "
            "ratios are of medians, all libraries measured in the same runs",
            SAMPLE_COLUMNS_NOTE,
        ],
        code_changed=code_changed,
    )
    verdicts: list[Verdict] = []
    for measure in STREAM_MEASURES:
        if measure.key in plan.measures:
            lines, found = stream_report(measure, results, plan)
            out += [*lines, ""]
            verdicts += found
    if IDLE in plan.measures:
        lines, found = idle_report(results, plan)
        out += [*lines, ""]
        verdicts += found
    met = sum(verdict.met for verdict in verdicts)
    out.append(f"SPEC targets: {met}/{len(verdicts)} met")
    out += [f"  {verdict.text()}" for verdict in verdicts]
    return "\n".join(out)


def to_json(results: Results, plan: Plan) -> dict[str, Any]:
    return {
        "environment": environment(),
        "runs": plan.runs,
        "quick": plan.quick,
        "streams": [
            {
                "measure": key,
                "library": library,
                "samples": [sample_json(s) for s in samples],
            }
            for (key, library), samples in results.streams.items()
        ],
        "idle": [
            {
                "library": library,
                "samples": [
                    {
                        "connections": s.connections,
                        "rss_growth": s.rss_growth,
                        "bytes_per_connection": s.bytes_per_connection,
                        "tasks_per_connection": s.tasks_per_connection,
                        "released": s.released,
                    }
                    for s in samples
                ],
            }
            for library, samples in results.idle.items()
        ],
    }


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_run_options(
    parser: argparse.ArgumentParser,
    keys: Sequence[str],
    *,
    what: str,
    runs: int,
    quick_runs: int | None = None,
) -> None:
    """The options every server benchmark shares: ``--runs`` (default `runs`, or `quick_runs`
    with ``--quick`` when given), ``--only`` (a comma-separated subset of `keys`, the script's
    `what`: measures or cases) and ``--json``."""
    quick = "" if quick_runs is None else f", or {quick_runs} with --quick"
    parser.add_argument(
        "--runs",
        type=positive,
        default=None if quick_runs is not None else runs,
        metavar="N",
        help=f"runs to take the median of (default {runs}{quick})",
    )
    parser.add_argument(
        "--only",
        default=",".join(keys),
        metavar="LIST",
        help=f"comma-separated {what} to run, of: {', '.join(keys)} (default: all)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write every sample here"
    )


def chosen_keys(
    parser: argparse.ArgumentParser, args: argparse.Namespace, keys: Sequence[str], what: str
) -> tuple[str, ...]:
    """The `keys` that ``--only`` names, in their own order; a usage error for unknown ones."""
    named = args.only.split(",")
    unknown = set(named) - set(keys)
    if unknown:
        parser.error(f"unknown {what}: {', '.join(sorted(unknown))}")
    return tuple(key for key in keys if key in named)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Events/s and per-connection cost of our EventSourceResponse against "
            "sse-starlette 3.7, fastapi.sse and a raw ASGI app, through real uvicorn servers; "
            "reports the SPEC streaming targets as met or missed."
        )
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 run with a tenth of the events: a smoke test"
    )
    parser.add_argument(
        "--connections",
        type=positive,
        default=None,
        metavar="N",
        help=f"idle connections to open (default {DEFAULT_CONNECTIONS})",
    )
    add_run_options(parser, MEASURE_KEYS, what="measures", runs=DEFAULT_RUNS, quick_runs=QUICK_RUNS)
    args = parser.parse_args(argv)
    args.measures = chosen_keys(parser, args, MEASURE_KEYS, "measures")
    return args


def terminate(signum: int, frame: object) -> None:
    """SIGTERM handler: leave through the normal exits, which stop the servers."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan(
        runs=args.runs or (QUICK_RUNS if args.quick else DEFAULT_RUNS),
        quick=args.quick,
        connections=args.connections or (QUICK_CONNECTIONS if args.quick else DEFAULT_CONNECTIONS),
        measures=args.measures,
    )
    return measure_and_report(plan, run_all, report, to_json, args.json)


def measure_and_report(
    plan: PlanT,
    run_all: Callable[[PlanT, asyncio.Runner], ResultsT],
    report: Callable[..., str],
    to_json: Callable[[ResultsT, PlanT], dict[str, Any]],
    json_path: Path | None,
) -> int:
    """Run `plan` with `run_all` on uvloop, print `report`, and write `to_json` to `json_path`
    if given; the exit status (1 when something could not be measured fairly)."""
    raise_fd_limit()
    # A SIGTERM (a CI timeout, say) must unwind like Ctrl-C does, so that every server's
    # process group is killed on the way out instead of being left behind.
    signal.signal(signal.SIGTERM, terminate)
    fingerprint = source_fingerprint()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        try:
            results = run_all(plan, runner)
        except MeasurementError as exc:
            print(f"could not measure fairly: {exc}", file=sys.stderr)
            return 1
    print(report(results, plan, code_changed=source_fingerprint() != fingerprint))
    if json_path is not None:
        json_path.write_text(json.dumps(to_json(results, plan), indent=2) + "\n")
        print(f"\nwrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
