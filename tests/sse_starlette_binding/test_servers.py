"""`EventSourceResponse` end to end, in real server processes (uvicorn, hypercorn, granian).

Each test starts a server on a free port of 127.0.0.1 running ``server_app.py`` (in this
folder), talks to it with raw sockets (``support.servers``), and checks what a user would see:
what a client receives and when, whether the producer's cleanup ran (the app records it in a
file), how long the process takes to exit after a signal, and what the server logged.

uvicorn runs with ``--loop uvloop --http httptools`` unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
from support.http_client import HTTPResponse, IncompleteResponse, open_request
from support.servers import ServerKind, ServerProcess, run_server, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

pytestmark = [
    pytest.mark.slow,
    # Process groups, start_new_session and /proc/<pid>/status.
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux"),
]

APP_DIR: Final = Path(__file__).resolve().parent
UVICORN_ARGS: Final = ("--loop", "uvloop", "--http", "httptools")
TRACEBACK: Final = "Traceback (most recent call last)"
INCOMPLETE_RESPONSE: Final = "ASGI callable returned without completing response"
PING_BLOCK: Final = re.compile(rb": ping - [^\r\n]*\r\n\r\n")


@pytest.fixture
def uvicorn_server(tmp_path: Path) -> Iterator[ServerProcess]:
    with run_server("uvicorn", APP_DIR, tmp_path, extra_args=UVICORN_ARGS) as server:
        yield server


async def read_to_end(response: HTTPResponse) -> tuple[str, list[bytes]]:
    """Read a stream's blocks until its body ends: ("complete", blocks) when the last chunk
    arrived, ("cut", blocks) when the connection closed (or was reset) before it."""
    blocks: list[bytes] = []
    try:
        while (block := await response.read_block()) is not None:
            blocks.append(block)
    except (IncompleteResponse, ConnectionError):
        return "cut", blocks
    return "complete", blocks


@dataclass
class ShutdownOutcome:
    exit_seconds: float | None
    """From the signal to the main process's exit; None if it did not exit in time."""
    returncode: int | None
    clients: list[str]
    """Per client: "complete", "cut" (closed without the last chunk) or "open"."""
    records: list[str]
    """What the app had recorded by then, before the clients closed their connections (which
    would end the streams anyway)."""


async def signal_with_open_streams(
    server: ServerProcess,
    signum: signal.Signals,
    paths: Sequence[str],
    *,
    exit_timeout: float,
    first_block: bytes,
) -> tuple[ShutdownOutcome, list[list[bytes]]]:
    """Open one stream per path, wait until each has delivered its first event (so every
    producer runs), keep all of them reading, signal the server's main process and measure how
    long it takes to exit (waiting at most `exit_timeout` seconds)."""
    responses = await asyncio.gather(*(open_request(server.port, path) for path in paths))
    try:
        for response in responses:
            assert response.status == 200
        firsts = await asyncio.wait_for(
            asyncio.gather(*(response.read_block() for response in responses)), 10
        )
        for block in firsts:
            assert block is not None
            assert first_block in block
        readers = [asyncio.create_task(read_to_end(response)) for response in responses]
        server.send_signal(signum)
        exit_seconds = await wait_until(server.exited, exit_timeout)
        # Whatever the server did, its clients learn it within moments (or never will).
        done, pending = await asyncio.wait(readers, timeout=2)
        for task in pending:
            task.cancel()
        clients, blocks = [], []
        for task in readers:
            if task in done:
                status, received = task.result()
            else:
                status, received = "open", []
            clients.append(status)
            blocks.append(received)
        outcome = ShutdownOutcome(
            exit_seconds, server.process.returncode, clients, server.records()
        )
        cleanups = sum(line.startswith("cleanup ") for line in outcome.records)
        print(
            f"{server.kind} {signum.name} with {len(paths)} streams: exit after "
            f"{exit_seconds} s (code {outcome.returncode}), clients {Counter(clients)}, "
            f"{cleanups} cleanups"
        )
        return outcome, blocks
    finally:
        for response in responses:
            response.close()


def missing(records: list[str], what: str, ids: Sequence[str]) -> list[str]:
    """The ids for which `records` do not hold the line "<what> <id>" exactly once."""
    return [stream_id for stream_id in ids if records.count(f"{what} {stream_id}") != 1]


# 1. A client that goes away.


@pytest.mark.parametrize("producer", ["async", "sync"])
def test_client_disconnect_stops_the_producer_once(
    uvicorn_server: ServerProcess, producer: str
) -> None:
    """A client reads one event and closes the socket: within a second the producer's cleanup
    (its ``finally``; a sync generator's too) has run exactly once, and so has the
    close handler, and the server reports no error."""
    server = uvicorn_server
    sync = "&sync=1" if producer == "sync" else ""

    async def scenario() -> tuple[float | None, float | None]:
        path = f"/stream?id=gone&interval=0.1&close_handler=1{sync}"
        response = await open_request(server.port, path)
        assert response.status == 200
        block = await asyncio.wait_for(response.read_block(), 5)
        assert block == b"id: 0\r\nevent: tick\r\ndata: gone 0\r\n\r\n"
        await response.aclose()
        cleanup = await wait_until(lambda: server.count("cleanup gone") >= 1, 3)
        handler = await wait_until(
            lambda: server.count("close-handler gone http.disconnect") >= 1, 3
        )
        await asyncio.sleep(0.3)  # time for a second (wrong) call to show up
        return cleanup, handler

    cleanup, handler = asyncio.run(scenario())
    print(f"{producer} producer: cleanup {cleanup} s, close handler {handler} s after the close")
    assert cleanup is not None, f"no cleanup 3 s after the client left; log:\n{server.log_tail()}"
    assert cleanup < 1.0, f"cleanup ran {cleanup:.2f} s after the client left"
    assert handler is not None, "client_close_handler_callable was never called"
    assert server.count("cleanup gone") == 1, server.records()
    assert server.count("close-handler gone http.disconnect") == 1, server.records()
    assert server.count("start gone") == 1, server.records()
    log = server.log()
    assert INCOMPLETE_RESPONSE not in log, log
    assert TRACEBACK not in log, log


# 2. Shutdown with open streams, uvicorn.


@pytest.mark.parametrize(
    ("signum", "streams"), [(signal.SIGTERM, 100), (signal.SIGINT, 20)], ids=["SIGTERM", "SIGINT"]
)
def test_uvicorn_shutdown_ends_open_streams(
    uvicorn_server: ServerProcess, signum: signal.Signals, streams: int
) -> None:
    """uvicorn waits for open streams to end by themselves; the response ends them when the
    process is told to stop: it exits within 2 s, every producer's cleanup ran and every client
    received a complete response."""
    server = uvicorn_server
    ids = [f"s{n}" for n in range(streams)]
    paths = [f"/stream?id={stream_id}&interval=0.2" for stream_id in ids]
    outcome, _ = asyncio.run(
        signal_with_open_streams(server, signum, paths, exit_timeout=5, first_block=b"tick")
    )
    name = signum.name
    assert outcome.exit_seconds is not None, (
        f"uvicorn still running 5 s after {name} with {streams} open streams "
        f"(clients: {outcome.clients.count('open')} still open); log:\n{server.log_tail()}"
    )
    assert outcome.exit_seconds < 2.0, (
        f"uvicorn took {outcome.exit_seconds:.2f} s to exit after {name} with {streams} streams"
    )
    assert missing(outcome.records, "cleanup", ids) == []
    assert outcome.clients == ["complete"] * streams, outcome.clients
    log = server.log()
    assert TRACEBACK not in log, server.log_tail()
    assert INCOMPLETE_RESPONSE not in log


def test_uvicorn_cooperative_shutdown_sends_a_farewell(uvicorn_server: ServerProcess) -> None:
    """With `shutdown_event` and a grace period, a producer that watches the event says goodbye:
    the client receives the farewell event and a complete response, and the process exits
    promptly (well before the 2 s grace period would have run out)."""
    server = uvicorn_server
    ids = ["f0", "f1", "f2"]
    paths = [f"/farewell?id={stream_id}" for stream_id in ids]
    outcome, blocks = asyncio.run(
        signal_with_open_streams(
            server, signal.SIGTERM, paths, exit_timeout=6, first_block=b"event: hello"
        )
    )
    for stream_id, received in zip(ids, blocks, strict=True):
        farewell = f"event: farewell\r\ndata: bye {stream_id}\r\n\r\n".encode()
        assert received == [farewell], (stream_id, received)
    assert outcome.clients == ["complete"] * len(ids), outcome.clients
    assert outcome.exit_seconds is not None, f"uvicorn did not exit; log:\n{server.log_tail()}"
    assert outcome.exit_seconds < 1.5, f"uvicorn took {outcome.exit_seconds:.2f} s to exit"
    assert missing(outcome.records, "shutdown-event", ids) == []
    assert missing(outcome.records, "cleanup", ids) == []
    assert TRACEBACK not in server.log(), server.log_tail()


# 3. Shutdown with open streams, hypercorn and granian.

# hypercorn's worker process never receives the signal (the main process tells it through a
# multiprocessing event, polled every 0.1 s); it waits --graceful-timeout (1 s) for open
# connections, then cancels them, which runs every producer's cleanup but cuts each response.
# So: 0.1 s + 1 s + cancelling, the lifespan shutdown, the worker's exit and the main process
# joining it: 2.5 s leaves over a second for the steps that wait on no timer
# (docs/performance.md, "Figures behind bounds in the code", has what they took).
# granian's main process forwards SIGTERM to its worker, whose streams hear it and complete at
# once; the worker exits when its connections are done. Nothing waits on a timer, so the same
# 2 s as uvicorn.
OTHER_SERVERS: Final = [
    pytest.param(
        "hypercorn", ("--graceful-timeout", "1"), 2.5, {"complete", "cut"}, id="hypercorn"
    ),
    pytest.param(
        "hypercorn",
        ("--graceful-timeout", "1", "--worker-class", "trio"),
        2.5,
        {"complete", "cut"},
        id="hypercorn-trio",
    ),
    pytest.param("granian", (), 2.0, {"complete"}, id="granian"),
]


@pytest.mark.parametrize(("kind", "args", "bound", "client_outcomes"), OTHER_SERVERS)
def test_other_servers_shutdown_with_open_streams(
    tmp_path: Path,
    kind: ServerKind,
    args: tuple[str, ...],
    bound: float,
    client_outcomes: set[str],
) -> None:
    """SIGTERM to the server with 20 open streams: the process exits within `bound` seconds,
    every producer's cleanup ran, and no client is left hanging."""
    streams = 20
    ids = [f"s{n}" for n in range(streams)]
    paths = [f"/stream?id={stream_id}&interval=0.2" for stream_id in ids]
    with run_server(kind, APP_DIR, tmp_path, extra_args=args) as server:
        outcome, _ = asyncio.run(
            signal_with_open_streams(
                server, signal.SIGTERM, paths, exit_timeout=bound + 3, first_block=b"tick"
            )
        )
        not_cleaned = missing(outcome.records, "cleanup", ids)
        log = server.log()
    assert outcome.exit_seconds is not None, (
        f"{kind} still running {bound + 3} s after SIGTERM with {streams} open streams "
        f"(clients: {outcome.clients}); no cleanup for {not_cleaned}; log:\n{log[-3000:]}"
    )
    assert outcome.exit_seconds < bound, (
        f"{kind} took {outcome.exit_seconds:.2f} s to exit after SIGTERM with {streams} streams"
    )
    assert not_cleaned == []
    assert set(outcome.clients) <= client_outcomes, outcome.clients
    # hypercorn logs its own tracebacks for the connections it cancels; none may come from
    # the binding or the app.
    assert "sse_starlette_binding" not in log, log[-3000:]
    assert "server_app.py" not in log, log[-3000:]
    if kind == "granian":
        assert TRACEBACK not in log, log[-3000:]


def test_uvicorn_shutdown_with_a_client_that_stopped_reading(tmp_path: Path) -> None:
    """A client that stopped reading holds a write that will never finish. On SIGTERM its
    producer is stopped at once (its cleanup runs) and the other streams complete as usual.
    The stuck write itself cannot end: ASGI cannot abort a connection, and uvicorn waits to
    flush bytes nobody reads, so uvicorn exits only through ``--timeout-graceful-shutdown``
    (by cancelling that write, which it logs); without that option it waits forever."""
    args = (*UVICORN_ARGS, "--timeout-graceful-shutdown", "1")

    async def scenario(server: ServerProcess) -> tuple[float | None, float | None, str]:
        healthy = await open_request(server.port, "/stream?id=healthy&interval=0.1")
        assert await asyncio.wait_for(healthy.read_block(), 5) is not None
        # No useful send_timeout: only the shutdown can end this stream.
        stalled = await open_request(
            server.port, "/flood?id=slow&send_timeout=600", rcvbuf=4096, limit=4096
        )
        try:
            # Far less than this fills every buffer between the producer and the client.
            await asyncio.sleep(0.5)
            assert server.records() == ["start healthy", "start slow"], server.records()
            reader = asyncio.create_task(read_to_end(healthy))
            signalled = time.monotonic()
            server.send_signal(signal.SIGTERM)
            cleanup = await wait_until(lambda: server.count("cleanup slow") >= 1, 3)
            exit_seconds = await wait_until(server.exited, 4)
            if exit_seconds is not None:
                exit_seconds = time.monotonic() - signalled
            done, _ = await asyncio.wait([reader], timeout=1)
            healthy_end = reader.result()[0] if done else "open"
            reader.cancel()
        finally:
            stalled.close()
            healthy.close()
        return cleanup, exit_seconds, healthy_end

    with run_server("uvicorn", APP_DIR, tmp_path, extra_args=args) as server:
        cleanup, exit_seconds, healthy_end = asyncio.run(scenario(server))
        log = server.log()
    print(
        f"stalled stream cleaned up {cleanup} s after SIGTERM; uvicorn exited after "
        f"{exit_seconds} s; healthy stream: {healthy_end}"
    )
    assert cleanup is not None, f"the stalled producer was never stopped; log:\n{log[-3000:]}"
    assert cleanup < 0.5, f"the stalled producer was stopped {cleanup:.2f} s after SIGTERM"
    assert healthy_end == "complete"
    # --timeout-graceful-shutdown 1, after uvicorn's 0.1 s ticks, plus margin.
    assert exit_seconds is not None, f"uvicorn did not exit; log:\n{log[-3000:]}"
    assert exit_seconds < 2.5, f"uvicorn took {exit_seconds:.2f} s to exit"
    # Nothing of the app's own is logged. uvicorn may log the traceback of the stuck write it
    # cancels, or exit before the cancelled task gets to run again (a race inside uvicorn).
    tracebacks = log.split(TRACEBACK)[1:]
    assert len(tracebacks) <= 1, log[-3000:]
    assert all("CancelledError" in traceback for traceback in tracebacks), log[-3000:]
    assert "timeout graceful shutdown exceeded" in log, log[-3000:]


# 4. A client that stops reading.


def test_send_timeout_drops_a_client_that_stops_reading(uvicorn_server: ServerProcess) -> None:
    """A client that stops reading (small receive buffer, socket left open) is dropped after
    `send_timeout`: the producer's cleanup runs, the server logs `SendTimeoutError`, memory
    stays flat, and another stream on the same server keeps flowing meanwhile."""
    server = uvicorn_server

    async def scenario() -> tuple[float | None, int, int, list[float], float, float]:
        healthy = await open_request(server.port, "/stream?id=healthy&interval=0.05")
        assert await asyncio.wait_for(healthy.read_block(), 5) is not None
        arrivals: list[float] = []

        async def keep_reading() -> None:
            while await healthy.read_block() is not None:
                arrivals.append(time.monotonic())

        reader = asyncio.create_task(keep_reading())
        rss_before = server.rss_bytes()
        rss_peak = rss_before
        stalled = await open_request(
            server.port, "/flood?id=slow&send_timeout=0.5", rcvbuf=4096, limit=4096
        )
        stalled_at = time.monotonic()
        try:
            assert stalled.status == 200

            def cleaned_up() -> bool:
                nonlocal rss_peak
                rss_peak = max(rss_peak, server.rss_bytes())
                return server.count("cleanup slow") >= 1

            cleanup = await wait_until(cleaned_up, 5, poll=0.02)
            await asyncio.sleep(0.5)  # the healthy stream goes on after the drop too
            rss_peak = max(rss_peak, server.rss_bytes())
            window_end = time.monotonic()
        finally:
            reader.cancel()
            stalled.close()
            healthy.close()
        return cleanup, rss_before, rss_peak, arrivals, stalled_at, window_end

    cleanup, rss_before, rss_peak, arrivals, start, end = asyncio.run(scenario())
    assert cleanup is not None, f"the stalled stream was never dropped; log:\n{server.log_tail()}"
    assert cleanup < 3.0, f"the stalled stream was dropped only after {cleanup:.2f} s"
    assert "SendTimeoutError" in server.log(), server.log_tail()
    growth = rss_peak - rss_before
    during = [t for t in arrivals if start <= t <= end]
    gaps = [b - a for a, b in zip([start, *during], [*during, end], strict=True)]
    print(
        f"stalled client dropped {cleanup:.3f} s after its headers; RSS growth "
        f"{growth / 2**20:.1f} MiB; healthy stream: {len(during)} events in "
        f"{end - start:.2f} s, longest gap {max(gaps):.3f} s"
    )
    assert growth < 50 * 2**20, f"server RSS grew by {growth / 2**20:.1f} MiB"
    assert len(during) >= (end - start) / 0.05 / 2, (len(during), end - start)
    assert max(gaps) < 0.5, f"the healthy stream stalled for {max(gaps):.2f} s"


def test_a_client_that_stops_reading_and_then_leaves_ends_its_stream(
    uvicorn_server: ServerProcess,
) -> None:
    """A client stops reading (its stream's write is stuck, and no `send_timeout` will end it),
    then closes its socket: the stuck write ends, the producer's cleanup runs once, and the
    server logs nothing wrong."""
    server = uvicorn_server

    async def scenario() -> tuple[list[str], float | None]:
        stalled = await open_request(
            server.port, "/flood?id=slow&send_timeout=600", rcvbuf=4096, limit=4096
        )
        try:
            assert stalled.status == 200
            await asyncio.sleep(0.5)  # far more than it takes to fill every buffer
            while_stalled = server.records()
        finally:
            stalled.close()
        return while_stalled, await wait_until(lambda: server.count("cleanup slow") >= 1, 3)

    while_stalled, cleanup = asyncio.run(scenario())
    print(f"stuck stream cleaned up {cleanup} s after the client closed its socket")
    assert while_stalled == ["start slow"], while_stalled
    assert cleanup is not None, f"the stuck stream never ended; log:\n{server.log_tail()}"
    assert cleanup < 1.0, f"the stuck stream ended {cleanup:.2f} s after the client left"
    time.sleep(0.3)  # time for a second (wrong) cleanup to show up
    assert server.records() == ["start slow", "cleanup slow"], server.records()
    log = server.log()
    assert TRACEBACK not in log, log
    assert INCOMPLETE_RESPONSE not in log, log


# 5. Keep-alive pings.


def test_pings_follow_silence(uvicorn_server: ServerProcess) -> None:
    """`ping=0.3`: after the last event, a ping comment arrives each 0.3 s of silence, none
    sooner."""
    server = uvicorn_server

    async def scenario() -> tuple[list[float], list[bytes]]:
        response = await open_request(server.port, "/once?id=pinged&ping=0.3")
        try:
            block = await asyncio.wait_for(response.read_block(), 5)
            assert block == b"event: only\r\ndata: pinged\r\n\r\n"
            last = time.monotonic()
            gaps, pings = [], []
            for _ in range(3):
                ping = await asyncio.wait_for(response.read_block(), 2)
                assert ping is not None
                now = time.monotonic()
                gaps.append(now - last)
                pings.append(ping)
                last = now
            return gaps, pings
        finally:
            response.close()

    gaps, pings = asyncio.run(scenario())
    for ping in pings:
        assert PING_BLOCK.fullmatch(ping), ping
    described = ", ".join(f"{gap:.3f}" for gap in gaps)
    print(f"ping=0.3: gaps {described} s")
    # Timers may fire a millisecond or so early; 0.28 s still means "not before the silence".
    assert gaps[0] >= 0.28, f"first ping {gaps[0]:.3f} s after the event (gaps: {described})"
    assert all(0.2 <= gap <= 1.0 for gap in gaps), f"gaps between pings: {described} s"


def test_ping_zero_sends_no_pings(uvicorn_server: ServerProcess) -> None:
    server = uvicorn_server

    async def scenario() -> bytes | None:
        response = await open_request(server.port, "/once?id=quiet&ping=0")
        try:
            block = await asyncio.wait_for(response.read_block(), 5)
            assert block == b"event: only\r\ndata: quiet\r\n\r\n"
            try:
                return await asyncio.wait_for(response.read_some(), 1.0)
            except TimeoutError:
                return None
        finally:
            response.close()

    assert asyncio.run(scenario()) is None


# 6. HEAD.


def test_head_returns_headers_without_starting_the_producer(
    uvicorn_server: ServerProcess,
) -> None:
    """HEAD on an endless stream answers at once with the stream's headers and never starts
    its producer."""
    server = uvicorn_server

    async def scenario() -> tuple[HTTPResponse, float]:
        started = time.monotonic()
        response = await open_request(server.port, "/stream?id=head", method="HEAD", timeout=5)
        elapsed = time.monotonic() - started
        response.close()
        await asyncio.sleep(0.3)  # time for a (wrongly) started producer to record itself
        return response, elapsed

    response, elapsed = asyncio.run(scenario())
    print(f"HEAD answered in {elapsed:.3f} s: {response.headers}")
    assert response.status == 200
    assert elapsed < 1.0, f"HEAD took {elapsed:.2f} s"
    assert response.header("content-type") == "text/event-stream; charset=utf-8"
    assert response.header("cache-control") == "no-store"
    assert response.header("x-accel-buffering") == "no"
    assert "keep-alive" not in (response.header("connection") or "").lower(), response.headers
    assert server.records() == [], server.records()
