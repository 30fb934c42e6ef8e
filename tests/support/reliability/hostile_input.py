"""Hostile input: ``Last-Event-ID`` headers no client should send, and a request body
without end, while a healthy stream ticks.
"""

from __future__ import annotations

__all__ = [
    "BODY_RSS_GROWTH_MAX",
    "HOSTILE_LAST_EVENT_IDS",
    "EndlessBodyResult",
    "HostileResult",
    "LastEventIdOutcome",
    "hostile_input",
]

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sse_starlette_binding.testing._http import Exchange
from support.http_client import open_request
from support.reliability.clients import TickReader, id_gaps
from support.reliability.common import (
    APP,
    APP_DIR,
    MIB,
    UVICORN_ARGS,
    Cleanups,
    get_text,
)
from support.reliability.measure import Snapshot, bytes_read, snapshot, snapshot_when_settled
from support.servers import raise_fd_limit, run_server, wait_until

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

BODY_RSS_GROWTH_MAX: Final = 32 * MIB
"""Server RSS growth while a client sends a request body without end: the stream reads the
body and drops it as it comes (``stress/reliability.py --only hostile`` prints the figure;
docs/reliability.md has it for 4 GiB)."""
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
                after = await snapshot_when_settled(server, baseline, 10)
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
