"""The app that test_testing.py serves with uvicorn to exercise the URL client.

`support.servers.run_server` serves it as ``_apps:app`` from this folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.routing import Route
from support.recording import health

from sse_starlette_binding import EventSourceResponse, last_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

# How many endless streams have run their cleanup in this server process.
_cleanups = [0]


async def ticks(request: Request) -> EventSourceResponse:
    """Three ``tick`` events with ids 0, 1, 2, then the response ends."""

    async def events() -> AsyncIterator[dict[str, Any]]:
        for n in range(3):
            yield {"event": "tick", "id": str(n), "data": n}

    return EventSourceResponse(events(), ping=0)


async def endless(request: Request) -> EventSourceResponse:
    """A ``tick`` every 20 ms until the client goes away; its cleanup is counted."""

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            n = 0
            while True:
                yield {"event": "tick", "id": str(n), "data": n}
                n += 1
                await anyio.sleep(0.02)
        finally:
            _cleanups[0] += 1

    return EventSourceResponse(events(), ping=0)


async def cleanups(request: Request) -> EventSourceResponse:
    """One ``cleanups`` event: how many endless streams were cleaned up so far."""
    return EventSourceResponse([{"event": "cleanups", "data": _cleanups[0]}], ping=0)


async def resume(request: Request) -> EventSourceResponse:
    """One ``resume`` event whose data is the request's Last-Event-ID, as the app reads it."""
    return EventSourceResponse([{"event": "resume", "data": repr(last_event_id(request))}], ping=0)


async def echo(request: Request) -> EventSourceResponse:
    """One ``echo`` event whose data is the request body."""
    body = await request.body()
    return EventSourceResponse([{"event": "echo", "data": body.decode()}], ping=0)


app = Starlette(
    routes=[
        Route("/ticks", ticks),
        Route("/endless", endless),
        Route("/cleanups", cleanups),
        Route("/resume", resume),
        Route("/echo", echo, methods=["POST"]),
        Route("/health", health),
    ]
)
