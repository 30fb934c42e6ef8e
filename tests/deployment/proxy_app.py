"""The app the deployment tests serve with uvicorn, behind nginx or not.

- ``GET /lockstep?run=R&count=N&ack_timeout=S``: events "0" to "N-1" (ids alike), then "done".
  Event k+1 is produced only once ``POST /ack?run=R&n=k`` said that the client has event k; an
  ack that does not come within S seconds ends the stream with a "stalled" event instead. So
  every event but the first reaches the client only if the one before went through unbuffered.
- ``GET /idle?run=R&ping=P``: an "open" event, then nothing but keep-alive pings every P seconds
  (``ping=0``: none) until ``POST /poke?run=R``, which makes it send "poked" and end.
- ``GET /flood?run=R&size=S``: events of S bytes of data, as fast as the connection takes them,
  forever; ``GET /produced?run=R`` answers how many bytes it has written so far.
- ``GET /last-event-id``: one event whose data is the ``Last-Event-ID`` the app received
  (``"<none>"`` when there was none).
- ``GET /health`` answers once the app is up.

The same routes are mounted under ``/gzip`` behind Starlette's `GZipMiddleware` with its
defaults, and under ``/gzip-all`` behind one that excludes no content type (so that the event
stream is compressed too). Acks and pokes go to ``/ack`` and ``/poke`` whichever path served
the stream: the state is this process's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import anyio
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from support.recording import health, query_seconds

from sse_starlette_binding import EventSourceResponse, ServerSentEvent, last_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.streams.memory import MemoryObjectSendStream
    from starlette.requests import Request

DEFAULT_ACK_TIMEOUT: Final = 10.0

# run id -> bytes of event data /flood has produced so far.
produced: dict[str, int] = {}
# run id -> where acks (the number of the event the client has) or pokes are delivered.
waiting: dict[str, MemoryObjectSendStream[int]] = {}


def lockstep(request: Request) -> EventSourceResponse:
    run = request.query_params["run"]
    count = int(request.query_params.get("count", "5"))
    ack_timeout = query_seconds(request, "ack_timeout", DEFAULT_ACK_TIMEOUT)
    send, receive = anyio.create_memory_object_stream[int](count)

    async def events() -> AsyncIterator[ServerSentEvent]:
        with send, receive:
            waiting[run] = send
            try:
                for n in range(count):
                    yield ServerSentEvent(str(n), id=str(n))
                    acked: int | None = None
                    # No yield inside the scope: a cancel scope must not span a suspension.
                    with anyio.move_on_after(ack_timeout):
                        acked = await receive.receive()
                    if acked is None:
                        yield ServerSentEvent(
                            f"the client had not received event {n} after {ack_timeout} s",
                            event="stalled",
                        )
                        return
                    if acked != n:
                        yield ServerSentEvent(f"ack for {acked}, not {n}", event="wrong")
                        return
                yield ServerSentEvent("done", event="done")
            finally:
                del waiting[run]

    return EventSourceResponse(events(), ping=0)


async def ack(request: Request) -> PlainTextResponse:
    """Hand `n` to the stream `run`: 200 when it was there to take it, 404 when it is gone."""
    sender = waiting.get(request.query_params["run"])
    if sender is None:
        return PlainTextResponse("no such stream", status_code=404)
    sender.send_nowait(int(request.query_params.get("n", "0")))
    return PlainTextResponse("ok")


def idle(request: Request) -> EventSourceResponse:
    run = request.query_params["run"]
    send, receive = anyio.create_memory_object_stream[int](1)

    async def events() -> AsyncIterator[ServerSentEvent]:
        with send, receive:
            waiting[run] = send
            try:
                yield ServerSentEvent("open", event="open")
                await receive.receive()
                yield ServerSentEvent("poked", event="poked")
            finally:
                del waiting[run]

    return EventSourceResponse(events(), ping=query_seconds(request, "ping"))


def flood(request: Request) -> EventSourceResponse:
    run = request.query_params["run"]
    data = "x" * int(request.query_params.get("size", "65536"))
    produced[run] = 0

    async def events() -> AsyncIterator[str]:
        while True:
            yield data
            produced[run] += len(data)

    return EventSourceResponse(events(), ping=0)


async def produced_so_far(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(produced.get(request.query_params["run"], -1)))


def echo_last_event_id(request: Request) -> EventSourceResponse:
    received = last_event_id(request)
    return EventSourceResponse([ServerSentEvent("<none>" if received is None else received)])


routes = [
    Route("/health", health),
    Route("/lockstep", lockstep),
    Route("/ack", ack, methods=["POST"]),
    Route("/idle", idle),
    Route("/poke", ack, methods=["POST"]),
    Route("/last-event-id", echo_last_event_id),
    Route("/flood", flood),
    Route("/produced", produced_so_far),
]
plain = Starlette(routes=routes)
app = Starlette(
    routes=[
        *routes,
        # The same routes behind Starlette's GZipMiddleware: with its defaults, and excluding
        # no content type (so that it compresses the event stream too).
        Mount("/gzip", GZipMiddleware(plain, minimum_size=0)),
        Mount("/gzip-all", GZipMiddleware(plain, minimum_size=0, exclude_content_types=())),
    ]
)
