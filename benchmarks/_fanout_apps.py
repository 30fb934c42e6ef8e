"""The apps `fanout.py` serves: one channel, fanned out to every ``GET /events`` stream.

Each factory builds one library's app; uvicorn loads it with ``--factory``. The backend comes
from the environment: ``FANOUT_REDIS_URL`` (Redis) or nothing (memory). ``POST
/publish?count=N&start=S&pad=P&interval=I`` publishes N events, each with data ``"<n> <t>"``
(its number and ``time.time()`` when it was published; then a space and P bytes of padding
when P > 0), at full speed or I seconds apart, and answers once they are published.

- `ours`: sse-broadcast's `Broadcast` and the Starlette binding's `EventSourceResponse`, the
  subscription given to the response as it is. Its buffer holds every event of a run, as the
  peer's unbounded queues do, so that both deliver everything; with ``FANOUT_DEFAULTS`` set
  it has the default history, buffer and slow-subscriber policy instead (1,000 events kept,
  1,000 waiting at most, "end").
- `peer`: sse-starlette's `EventSourceResponse` fed by encode/broadcaster (``memory://`` or
  ``redis-stream://``), the recipe sse-starlette's documentation points to.

Every stream's response says its worker process in an ``X-Worker`` header.
"""

from __future__ import annotations

import os
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

CHANNEL = "fanout"
# Says which uvicorn worker serves a stream: fanout.py spreads its first subscribers over them.
WORKER = {"X-Worker": str(os.getpid())}
BUFFER = 1_000_000  # events a subscriber may have waiting: more than any run publishes


def payload(n: int, pad: str) -> str:
    return f"{n} {time.time():.6f}{pad}"


def _app(
    publish: Callable[[str], Awaitable[Any]],
    events: Callable[[Request], Awaitable[Response]],
    running: Callable[[], Any],
) -> Starlette:
    async def publish_endpoint(request: Request) -> PlainTextResponse:
        count = int(request.query_params["count"])
        start = int(request.query_params.get("start", "0"))
        size = int(request.query_params.get("pad", "0"))
        interval = float(request.query_params.get("interval", "0"))
        pad = " " + "x" * size if size else ""
        for n in range(start, start + count):
            await publish(payload(n, pad))
            if interval:
                await anyio.sleep(interval)
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running():
            yield

    return Starlette(
        routes=[
            Route("/publish", publish_endpoint, methods=["POST"]),
            Route("/events", events),
        ],
        lifespan=lifespan,
    )


def ours() -> Starlette:
    from sse_broadcast import Backend, Broadcast, MemoryBackend  # noqa: PLC0415 (one library per server)
    from sse_starlette_binding import EventSourceResponse  # noqa: PLC0415 (one library per server)

    redis_url = os.environ.get("FANOUT_REDIS_URL")
    defaults = bool(os.environ.get("FANOUT_DEFAULTS"))
    sizes = {} if defaults else {"history": BUFFER}
    backend: Backend
    if redis_url:
        from sse_broadcast.redis import RedisBackend  # noqa: PLC0415 (needs the redis extra)

        backend = RedisBackend.from_url(redis_url, prefix="fanout-ours:", **sizes)
    else:
        backend = MemoryBackend(**sizes)
    broadcast = Broadcast(backend) if defaults else Broadcast(backend, buffer_size=BUFFER)

    async def publish(data: str) -> None:
        await broadcast.publish(CHANNEL, data)

    async def events(request: Request) -> Response:
        return EventSourceResponse(broadcast.subscribe(CHANNEL), ping=0, headers=WORKER)

    return _app(publish, events, lambda: broadcast)


def peer() -> Starlette:
    from broadcaster import Broadcast  # noqa: PLC0415 (one library per server)
    from sse_starlette import EventSourceResponse  # noqa: PLC0415 (one library per server)

    # Redis Streams (broadcaster's "redis-stream://"), as ours: its pub/sub backend
    # ("redis://") delivered nothing here with redis-py 8 (its listener can start before the
    # first subscription is made, find nothing subscribed, and stop waiting for messages).
    redis_url = os.environ.get("FANOUT_REDIS_URL")
    broadcast = Broadcast(
        redis_url.replace("redis", "redis-stream", 1) if redis_url else "memory://"
    )

    async def publish(data: str) -> None:
        await broadcast.publish(channel=CHANNEL, message=data)

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[dict[str, str]]:
            async with broadcast.subscribe(channel=CHANNEL) as subscriber:
                async for event in subscriber:  # type: ignore[union-attr]  # a loosely typed peer
                    if event is None:  # broadcaster's end of a subscription
                        return
                    yield {"data": event.message}

        return EventSourceResponse(stream(), ping=3600, headers=WORKER)

    return _app(publish, events, lambda: broadcast)
