"""The app the end-to-end broadcast tests serve with real servers.

- ``POST /publish?channel=C&count=N[&start=S][&final=1][&pad=P]`` publishes N events at full
  speed, with data "S" to "S+N-1" (each followed by a space and P x's when asked), the last
  one final when asked; it answers with the first and last ids.
- ``GET /events?channel=C[&from_start=1]`` streams the channel, resuming after the request's
  ``Last-Event-ID``.
- ``GET /stats``: the memory backend's statistics (channels, events, listeners).
- ``GET /health`` answers once the app is up.

The backend comes from the environment: ``SSE_TEST_BROADCAST_HISTORY`` (events kept per
channel, default 100000) and, when ``SSE_TEST_REDIS_URL`` is set, Redis (with the key prefix
``SSE_TEST_REDIS_PREFIX``) instead of memory: several workers then share the channels.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from support.recording import health

from sse_broadcast import Backend, Broadcast, MemoryBackend
from sse_starlette_binding import EventSourceResponse, last_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request


def make_backend() -> Backend:
    history = int(os.environ.get("SSE_TEST_BROADCAST_HISTORY", "100000"))
    redis_url = os.environ.get("SSE_TEST_REDIS_URL")
    if redis_url:
        from sse_broadcast.redis import RedisBackend  # noqa: PLC0415 (only with Redis)

        prefix = os.environ.get("SSE_TEST_REDIS_PREFIX", "sse:")
        return RedisBackend.from_url(redis_url, history=history, prefix=prefix)
    return MemoryBackend(history=history)


broadcast = Broadcast(make_backend())


async def publish(request: Request) -> JSONResponse:
    channel = request.query_params["channel"]
    count = int(request.query_params["count"])
    start = int(request.query_params.get("start", "0"))
    final = request.query_params.get("final") == "1"
    padding = " " + "x" * int(request.query_params["pad"]) if "pad" in request.query_params else ""
    ids = [
        await broadcast.publish(channel, f"{start + n}{padding}", final=final and n == count - 1)
        for n in range(count)
    ]
    return JSONResponse({"first": ids[0], "last": ids[-1]})


async def events(request: Request) -> EventSourceResponse:
    subscription = broadcast.subscribe(
        request.query_params["channel"],
        last_event_id=last_event_id(request),
        from_start=request.query_params.get("from_start") == "1",
    )
    return EventSourceResponse(subscription, ping=5, sep="\n")


async def stats(request: Request) -> JSONResponse:
    backend = broadcast.backend
    assert isinstance(backend, MemoryBackend)
    return JSONResponse(dataclasses.asdict(backend.statistics()))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with broadcast:
        yield


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/publish", publish, methods=["POST"]),
        Route("/events", events),
        Route("/stats", stats),
    ],
    lifespan=lifespan,
)
