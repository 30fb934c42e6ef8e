"""The ASGI apps that `latency.py` serves with uvicorn, one library per server process.

uvicorn loads one of the factories below (``--factory --app-dir benchmarks
_latency_apps:ours_app``). Each factory imports only its own library, so sse-starlette's
import-time patching of uvicorn never runs in the server that measures another library. Every
app answers the same paths with the same producers and writes the same bytes, ``data: <text>``
and LF LF per event (FastAPI's `fastapi.sse` can write nothing else; the two Starlette libraries
are given ``sep="\\n"``). Keep-alive pings are left at 15 seconds, longer than any stream here.

``/first``
    One event at once, whose data is ``time.monotonic_ns()`` taken just before the yield (so
    that the client can tell the server's start-up from the delivery); then the producer waits
    forever on an `anyio.Event`, until the client leaves.
``/paced?n=N&start=S&interval=I``
    N events on an absolute schedule: event i is due at ``S + i * I`` nanoseconds of
    ``time.monotonic_ns()`` (CLOCK_MONOTONIC, the same clock in every process on Linux, so the
    client chooses S and compares stamps with its own clock). The producer sleeps with
    `asyncio.sleep` until the event is due (not at all if it is already late), then yields
    ``time.monotonic_ns()`` as the data, taken just before the yield. The stream ends after N
    events.
``/hog?ms=M``
    ``data: h`` as fast as the producer can yield it, never waiting, for M milliseconds. It
    stops by itself because an app that never waits may not notice its client leaving (the raw
    app does not listen at all, and uvicorn silently drops a send to a closed connection).
``/debug/tasks``
    ``len(asyncio.all_tasks())`` as text; the request's own task is counted.
``/debug/cpu``
    The server process's CPU seconds (`time.process_time`) as text.

Each library gets its events in the form it is fed in practice: the Starlette libraries get
strings and encode them; `fastapi.sse` gets ``ServerSentEvent(raw_data=...)`` objects (a plain
string would be JSON-encoded into ``data: "..."``), and its endpoints are the producers
themselves, with no generator layer around them; the raw ASGI app, the ceiling, sends each event
as bytes in its own ``http.response.body`` message and does nothing else (no disconnect
watching, no pings). A paced event's object is built after its timestamp is taken, so building
it (a pydantic model for `fastapi.sse`) counts in the latency, as it does in an application.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qs

import anyio
from _stream_apps import RAW_HEADERS, send_text
from support.ports import raise_fd_limit

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from _stream_apps import ASGIApp, Receive, Respond, Scope, Send

EventT = TypeVar("EventT")

PING_SECONDS: Final = 15
HOG_DATA: Final = "h"
STREAM_PATHS: Final = ("/first", "/paced", "/hog")

raise_fd_limit()


# -- the producers ------------------------------------------------------------------------------


def int_params(scope: Scope) -> dict[str, int]:
    """The request's query parameters as integers (``/paced`` and ``/hog`` take only those)."""
    query = parse_qs(scope["query_string"].decode())
    return {name: int(values[0]) for name, values in query.items()}


async def sleep_until(due_ns: int) -> None:
    """Sleep until ``time.monotonic_ns()`` reaches `due_ns`; return at once if it has."""
    delay = due_ns - time.monotonic_ns()
    if delay > 0:
        await asyncio.sleep(delay / 1e9)


async def first_event(make: Callable[[str], EventT]) -> AsyncIterator[EventT]:
    """One event at once, stamped, then nothing: it waits for an event that never comes."""
    yield make(str(time.monotonic_ns()))
    await anyio.Event().wait()


async def paced(
    make: Callable[[str], EventT], n: int, start: int, interval: int
) -> AsyncIterator[EventT]:
    """`n` events on the absolute schedule ``start + i * interval`` ns, each carrying the
    ``time.monotonic_ns()`` at which it was yielded."""
    for i in range(n):
        await sleep_until(start + i * interval)
        yield make(str(time.monotonic_ns()))


async def hog(event: EventT, ms: int) -> AsyncIterator[EventT]:
    """A producer that never waits: `event` again and again for `ms` milliseconds."""
    deadline = time.monotonic() + ms / 1000
    while time.monotonic() < deadline:
        yield event


# -- the apps -----------------------------------------------------------------------------------


def with_debug_paths(streams: ASGIApp) -> ASGIApp:
    """`streams` serves `STREAM_PATHS`; the ``/debug`` paths are answered here."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported scope type {scope['type']!r}")
        path = scope["path"]
        if path in STREAM_PATHS:
            await streams(scope, receive, send)
        elif path == "/debug/tasks":
            await send_text(send, 200, str(len(asyncio.all_tasks())))
        elif path == "/debug/cpu":
            await send_text(send, 200, repr(time.process_time()))
        else:
            await send_text(send, 404, "not found")

    return app


def make_app(respond: Respond, make: Callable[[str], Any]) -> ASGIApp:
    """The benchmark app around one library's `respond`; `make(text)` is an event with data
    `text` in the form that library is fed."""
    hog_event = make(HOG_DATA)

    async def streams(scope: Scope, receive: Receive, send: Send) -> None:
        path, params = scope["path"], int_params(scope)
        if path == "/first":
            content: AsyncIterator[Any] = first_event(make)
        elif path == "/paced":
            content = paced(make, params["n"], params["start"], params["interval"])
        else:
            content = hog(hog_event, params["ms"])
        await respond(content, scope, receive, send)

    return with_debug_paths(streams)


def ours_app() -> ASGIApp:
    """Our binding's `EventSourceResponse`."""
    from sse_starlette_binding import EventSourceResponse  # noqa: PLC0415 (one library per server)

    async def respond(content: Any, scope: Scope, receive: Receive, send: Send) -> None:
        await EventSourceResponse(content, ping=PING_SECONDS, sep="\n")(scope, receive, send)

    return make_app(respond, str)


def sse_starlette_app() -> ASGIApp:
    """sse-starlette 3.7's `EventSourceResponse`."""
    from sse_starlette import EventSourceResponse  # noqa: PLC0415 (one library per server)

    async def respond(content: Any, scope: Scope, receive: Receive, send: Send) -> None:
        await EventSourceResponse(content, ping=PING_SECONDS, sep="\n")(scope, receive, send)

    return make_app(respond, str)


def fastapi_app() -> ASGIApp:
    """FastAPI's native `fastapi.sse`: generator endpoints with its `EventSourceResponse`.

    FastAPI runs the endpoint as the producer itself, so each producer is written out in its
    endpoint (the same loops as `first_event`, `paced` and `hog`) rather than wrapped around
    those generators, which would add a generator layer the others do not pay. Its keep-alive
    interval is fixed at 15 s.
    """
    # One library per server process.
    from fastapi import FastAPI  # noqa: PLC0415
    from fastapi.sse import EventSourceResponse, ServerSentEvent  # noqa: PLC0415

    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    hog_event = ServerSentEvent(raw_data=HOG_DATA)

    @api.get("/first", response_class=EventSourceResponse)
    async def first() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(raw_data=str(time.monotonic_ns()))
        await anyio.Event().wait()

    @api.get("/paced", response_class=EventSourceResponse)
    async def paced_endpoint(n: int, start: int, interval: int) -> AsyncIterator[ServerSentEvent]:
        for i in range(n):
            await sleep_until(start + i * interval)
            yield ServerSentEvent(raw_data=str(time.monotonic_ns()))

    @api.get("/hog", response_class=EventSourceResponse)
    async def hog_endpoint(ms: int) -> AsyncIterator[ServerSentEvent]:
        deadline = time.monotonic() + ms / 1000
        while time.monotonic() < deadline:
            yield hog_event

    return with_debug_paths(api)


def raw_app() -> ASGIApp:
    """The ceiling: one ``http.response.body`` message per event, nothing else."""

    async def respond(content: Any, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": RAW_HEADERS})
        if scope["path"] == "/first":
            # The one event; its producer would then wait forever, so the request task waits
            # for the client to leave instead, and that is all.
            body = await anext(content)
            await send({"type": "http.response.body", "body": body, "more_body": True})
            await content.aclose()
            while (await receive())["type"] != "http.disconnect":
                pass
        else:
            async for body in content:
                await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return make_app(respond, lambda text: f"data: {text}\n\n".encode())
