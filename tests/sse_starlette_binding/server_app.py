"""The ASGI app that `test_servers.py` runs in real servers (uvicorn, hypercorn, granian).

Servers import it as ``server_app:app`` with this folder on ``sys.path``. What the producers do
is recorded from inside the server process (`support.recording.record`), one fact per line, for
the tests to read from outside:

- ``start <id>``: the producer began (its first item was asked for);
- ``cleanup <id>``: the producer's ``finally`` ran (the stream ended, however it ended);
- ``close-handler <id> <message type>``: ``client_close_handler_callable`` was awaited;
- ``shutdown-event <id>``: the producer saw ``shutdown_event`` set.

Every endpoint takes the stream's ``id`` as a query parameter; the rest of its knobs are query
parameters too, so one app serves every test.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.routing import Route
from support.recording import health, query_seconds, record

from sse_starlette_binding import EventSourceResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from starlette.requests import Request
    from starlette.types import Message


async def stream(request: Request) -> EventSourceResponse:
    """An endless stream: a ``tick`` event every ``interval`` seconds (0.1), the first at once.

    ``ping`` sets the keep-alive interval; ``close_handler=1`` records the close handler's call;
    ``sync=1`` produces from a sync generator (run in worker threads) instead.
    """
    stream_id = request.query_params["id"]
    interval = query_seconds(request, "interval", 0.1)
    assert interval is not None

    async def ticks() -> AsyncIterator[dict[str, Any]]:
        record(f"start {stream_id}")
        try:
            n = 0
            while True:
                yield {"event": "tick", "id": str(n), "data": f"{stream_id} {n}"}
                n += 1
                await anyio.sleep(interval)
        finally:
            record(f"cleanup {stream_id}")

    def sync_ticks() -> Iterator[dict[str, Any]]:
        record(f"start {stream_id}")
        try:
            n = 0
            while True:
                yield {"event": "tick", "id": str(n), "data": f"{stream_id} {n}"}
                n += 1
                time.sleep(interval)
        finally:
            record(f"cleanup {stream_id}")

    async def on_close(message: Message) -> None:
        record(f"close-handler {stream_id} {message['type']}")

    content = sync_ticks() if request.query_params.get("sync") == "1" else ticks()
    with_handler = request.query_params.get("close_handler") == "1"
    return EventSourceResponse(
        content,
        ping=query_seconds(request, "ping"),
        client_close_handler_callable=on_close if with_handler else None,
    )


async def farewell(request: Request) -> EventSourceResponse:
    """Cooperative shutdown: a ``hello`` event, then, once ``shutdown_event`` is set, a
    ``farewell`` event, and the generator returns (within ``shutdown_grace_period``, 2 s)."""
    stream_id = request.query_params["id"]
    shutdown = anyio.Event()

    async def events() -> AsyncIterator[dict[str, Any]]:
        record(f"start {stream_id}")
        try:
            yield {"event": "hello", "data": stream_id}
            await shutdown.wait()
            record(f"shutdown-event {stream_id}")
            yield {"event": "farewell", "data": f"bye {stream_id}"}
        finally:
            record(f"cleanup {stream_id}")

    return EventSourceResponse(events(), shutdown_event=shutdown, shutdown_grace_period=2)


async def once(request: Request) -> EventSourceResponse:
    """One ``only`` event, then silence forever: all that follows are keep-alive pings."""
    stream_id = request.query_params["id"]

    async def events() -> AsyncIterator[dict[str, Any]]:
        record(f"start {stream_id}")
        try:
            yield {"event": "only", "data": stream_id}
            await anyio.sleep_forever()
        finally:
            record(f"cleanup {stream_id}")

    return EventSourceResponse(events(), ping=query_seconds(request, "ping"))


async def flood(request: Request) -> EventSourceResponse:
    """Events of ``size`` bytes (16 KiB) as fast as possible: the producer never awaits
    anything, so only the response's own back-pressure holds it; ``send_timeout`` (0.5 s)."""
    stream_id = request.query_params["id"]
    payload = "x" * int(request.query_params.get("size", "16384"))

    async def events() -> AsyncIterator[dict[str, Any]]:
        record(f"start {stream_id}")
        try:
            n = 0
            while True:
                yield {"id": str(n), "data": payload}
                n += 1
        finally:
            record(f"cleanup {stream_id}")

    return EventSourceResponse(events(), send_timeout=query_seconds(request, "send_timeout", 0.5))


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/stream", stream, methods=["GET", "HEAD"]),
        Route("/farewell", farewell),
        Route("/once", once),
        Route("/flood", flood),
    ]
)
