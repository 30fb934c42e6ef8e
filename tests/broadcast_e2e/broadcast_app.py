"""The app the end-to-end broadcast tests serve with real servers.

- ``POST /publish?channel=C&count=N[&start=S][&final=1][&pad=P]`` publishes N events at full
  speed, with data "S" to "S+N-1" (each followed by a space and P x's when asked), the last
  one final when asked; it answers with the first and last ids.
- ``GET /events?channel=C[&from_start=1][&max=K][&retry=MS][&close=1]`` streams the channel,
  resuming after the request's ``Last-Event-ID``; with ``max`` the server ends each response
  after a random number (1 to K) of events, so that a browser's `EventSource` reconnects by
  itself (after ``retry`` milliseconds), on a new connection with ``close``.
- ``GET /page?channel=C&count=N&max=K``: a page whose `EventSource` follows the channel until
  the event with data N-1, counting its connections, then posts what it got to ``/report``,
  which records it (`support.recording.record`) for the test to read.
- ``GET /stats``: the memory backend's statistics (channels, events, listeners).
- ``GET /health`` answers once the app is up.

The backend comes from the environment: ``SSE_TEST_BROADCAST_HISTORY`` (events kept per
channel, default 100000) and, when ``SSE_TEST_REDIS_URL`` is set, Redis (with the key prefix
``SSE_TEST_REDIS_PREFIX``) instead of memory: several workers then share the channels.
"""

from __future__ import annotations

import dataclasses
import os
import random
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route
from support.recording import health, record

from sse_broadcast import Backend, Broadcast, MemoryBackend
from sse_starlette_binding import EventSourceResponse, last_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

    from sse_broadcast import Subscription
    from sse_core import ServerSentEvent


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
    pad = int(request.query_params.get("pad", "0"))
    padding = " " + "x" * pad if pad else ""
    ids = [
        await broadcast.publish(channel, f"{start + n}{padding}", final=final and n == count - 1)
        for n in range(count)
    ]
    return JSONResponse({"first": ids[0], "last": ids[-1]})


async def events(request: Request) -> EventSourceResponse:
    params = request.query_params
    subscription = broadcast.subscribe(
        params["channel"],
        last_event_id=last_event_id(request),
        from_start=params.get("from_start") == "1",
    )
    content: AsyncIterator[ServerSentEvent] = subscription
    if "max" in params:
        content = at_most(subscription, random.randint(1, int(params["max"])))
    retry = int(params["retry"]) if "retry" in params else None
    # "Connection: close" makes a client's reconnect a new connection, which the kernel may
    # hand to another worker (a browser would otherwise reuse its kept-alive connection).
    headers = None
    if params.get("close") == "1":
        headers = {"Connection": "close"}
        record(f"events served by {os.getpid()}")
    return EventSourceResponse(content, headers=headers, ping=5, sep="\n", retry=retry)


async def at_most(subscription: Subscription, count: int) -> AsyncIterator[ServerSentEvent]:
    # Ends the response after `count` events: the client reconnects with its Last-Event-ID.
    try:
        async for event in subscription:
            yield event
            count -= 1
            if count == 0:
                return
    finally:
        await subscription.aclose()


PAGE = """<!doctype html>
<title>follow</title>
<script>
  const params = new URLSearchParams(location.search);
  const last = String(Number(params.get("count")) - 1);
  const url = `/events?channel=${params.get("channel")}&from_start=1&max=${params.get("max")}`
    + "&retry=20&close=1";
  const received = [];
  let connections = 0;
  const source = new EventSource(url);
  source.onopen = () => { connections += 1; };
  source.onmessage = (event) => {
    received.push([event.data, event.lastEventId]);
    if (event.data === last) {
      source.close();
      fetch("/report", { method: "POST", body: JSON.stringify({ connections, received }) });
    }
  };
  source.addEventListener("gap", (event) => { received.push(["gap", event.data]); });
</script>
"""


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def report(request: Request) -> PlainTextResponse:
    record("report " + (await request.body()).decode())
    return PlainTextResponse("ok")


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
        Route("/page", page),
        Route("/report", report, methods=["POST"]),
    ],
    lifespan=lifespan,
)
