"""Server-Sent Events from a plain asyncio server: no framework, sse_core and the standard library.

Serve it with:  uv run python examples/core_asyncio.py
Then:           curl -N http://127.0.0.1:8081/events
Resume:         curl -N -H 'Last-Event-ID: 3' http://127.0.0.1:8081/events

`asyncio.start_server` gives a socket; this file speaks just enough HTTP/1.1 to answer
``GET /events`` with a chunked event stream (one chunk per event), and sse_core writes the events
(`EventEncoder`) and reads ``Last-Event-ID`` from the raw header bytes
(`last_event_id_from_header`). Use a framework for anything more than this: the point here is
that the encoder needs nothing but a place to write bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs, urlsplit

from sse_core import EventEncoder, ServerSentEvent, last_event_id_from_header

if TYPE_CHECKING:
    from collections.abc import Sequence

FEED = (
    ServerSentEvent("queued", event="status", id="1", retry=2000),
    ServerSentEvent.from_json({"step": "build", "progress": 0.5}, event="progress", id="2"),
    ServerSentEvent("compiling...\nlinking...\n", event="log", id="3"),
    ServerSentEvent("  café ☕, naïve résumé 🚀", event="log", id="4"),
    ServerSentEvent.from_json({"step": "build", "progress": 1.0}, event="progress", id="5"),
    ServerSentEvent("done", event="status", id="6"),
)
"""What the stream sends: every event has an id, so a client can resume after any of them."""

MAX_HEAD: Final = 16 * 1024
"""The largest request head this server reads, in bytes."""

ENCODER: Final = EventEncoder()

STREAM_HEAD: Final = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Cache-Control: no-store\r\n"
    b"X-Accel-Buffering: no\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Connection: close\r\n"
    b"\r\n"
)


def events_after(feed: Sequence[ServerSentEvent], last_id: str | None) -> Sequence[ServerSentEvent]:
    """The events after the one whose id is `last_id`; all of them for an unknown id or None."""
    for index, event in enumerate(feed):
        if event.id is not None and event.id == last_id:
            return feed[index + 1 :]
    return feed


def chunk(data: bytes) -> bytes:
    """`data` framed as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


async def read_head(reader: asyncio.StreamReader) -> tuple[str, str, dict[bytes, bytes]]:
    """The method, target and headers (names lowercased, values as bytes) of one request."""
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *header_lines = head[:-4].split(b"\r\n")
    method, target, _version = request_line.decode("ascii").split(" ")
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return method, target, headers


async def stream_events(
    writer: asyncio.StreamWriter, feed: Sequence[ServerSentEvent], interval: float
) -> None:
    """Write the response: the head, then each event of `feed` as a chunk, then the last chunk."""
    writer.write(STREAM_HEAD)
    for index, event in enumerate(feed):
        if index:
            await asyncio.sleep(interval)
        writer.write(chunk(ENCODER.encode(event)))
        # Waits while the client is slow to read, and raises once it has gone away.
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, feed: Sequence[ServerSentEvent]
) -> None:
    """Answer one request on one connection, then close it."""
    try:
        method, target, headers = await read_head(reader)
        url = urlsplit(target)
        if method != "GET" or url.path != "/events":
            writer.write(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            return
        interval = float(parse_qs(url.query).get("interval", ["0.5"])[0])
        # The header's raw bytes: last_event_id_from_header recovers the UTF-8 id from them.
        last_id = last_event_id_from_header(headers.get(b"last-event-id"))
        await stream_events(writer, events_after(feed, last_id), interval)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass  # the client left, or did not speak HTTP/1.1: nothing more to say to it
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start(
    host: str = "127.0.0.1", port: int = 8081, feed: Sequence[ServerSentEvent] = FEED
) -> asyncio.Server:
    """Start serving `feed` on `host`:`port` (the tests pass events of their own)."""
    return await asyncio.start_server(
        functools.partial(handle, feed=feed), host, port, limit=MAX_HEAD
    )


async def main() -> None:
    server = await start()
    print("serving on http://127.0.0.1:8081/events (Ctrl-C stops)")
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
