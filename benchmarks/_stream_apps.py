"""The ASGI apps that `streaming.py` serves with uvicorn, one library per server process.

uvicorn loads one of the factories below (``--factory --app-dir benchmarks
_stream_apps:ours_app``). Each factory imports only its own library, so sse-starlette's
import-time patching of uvicorn never runs in the server that measures another library. Every
app answers the same paths, with the same producers, and writes the same bytes:

``/stream?mode=M&n=N``
    N events, ``data: 0`` ... ``data: N-1``, LF-separated (FastAPI's `fastapi.sse` can write
    nothing else; the two Starlette libraries are given ``sep="\n"``). Modes: ``fast`` (an
    async generator that yields as fast as it can), ``yield`` (the same, awaiting
    ``asyncio.sleep(0)`` after each event), ``burst-stream`` (an anyio memory object stream
    holding all N events, sender closed, before the response starts) and ``burst-gen`` (an
    async generator over N ready events). Keep-alive pings are left at the libraries' default
    of 15 seconds, far longer than any stream here.
``/idle``
    A stream whose producer waits forever on an `anyio.Event` (ping 15 s).

`streaming_response_app` serves ``/idle`` only (``/stream`` answers 404): Starlette's plain
`StreamingResponse` over the same waiting producer, no SSE at all. It is the reference the
SPEC's idle-memory target is measured against.

The drop-in pair (`sse_starlette_dropin_app`, `binding_dropin_app`) serves ``/stream`` with
sse-starlette's own code, once with each library: the endpoint code is the same function,
given either module, the way a user's code reads after only its import changed. It keeps both
libraries' defaults (ping 15 s, CRLF, so ``data: <n>`` CRLF CRLF) and its producers build a
``ServerSentEvent(data=...)`` per event, as sse-starlette's documentation writes them.
``/debug/tasks``
    ``len(asyncio.all_tasks())`` as text; the request's own task is counted.
``/debug/cpu``
    The server process's CPU seconds (`time.process_time`) as text.
``/debug/prepare?n=N``
    Builds the N events' data ahead of a timed request, so that no timing includes it.

Each library gets its events in the form it is fed in practice, built before timing: the
Starlette libraries get strings (the data) and encode them; `fastapi.sse` gets its own
``ServerSentEvent(raw_data=...)`` objects, the way to hand it data that is already text (a
plain string would be JSON-encoded into ``data: "0"``), and its endpoint is the producer
itself; the raw ASGI app, the ceiling, gets the events pre-encoded as bytes and sends one
``http.response.body`` message per event, without listening for disconnects.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias
from urllib.parse import parse_qs

import anyio
from support.ports import raise_fd_limit

if TYPE_CHECKING:
    import types

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
# Builds the response for `content` and runs it: one per library.
Respond: TypeAlias = Callable[[Any, Scope, Receive, Send], Awaitable[None]]
# Builds the item a producer yields from one event's data (the drop-in apps' ServerSentEvent).
MakeItem: TypeAlias = Callable[..., Any]

MODES: Final = ("fast", "yield", "burst-stream", "burst-gen")
PING_SECONDS: Final = 15

# The idle measure holds 1,000 streams open: more than a common soft limit on open files.
raise_fd_limit()


# -- the events ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def texts(n: int) -> tuple[str, ...]:
    """The data of N events, for the libraries to encode (built once per N, before timing)."""
    return tuple(str(i) for i in range(n))


@functools.lru_cache(maxsize=8)
def wires(n: int) -> tuple[bytes, ...]:
    """The same N events already encoded, for the raw ASGI app."""
    return tuple(b"data: %d\n\n" % i for i in range(n))


async def fast(items: tuple[Any, ...]) -> AsyncIterator[Any]:
    """A producer that never waits."""
    for item in items:
        yield item


async def yielding(items: tuple[Any, ...]) -> AsyncIterator[Any]:
    """A producer that yields to the event loop after each event."""
    for item in items:
        yield item
        await asyncio.sleep(0)


async def fast_built(texts: tuple[str, ...], make: MakeItem) -> AsyncIterator[Any]:
    """`fast`, building each event from its data as it goes: ``make(data=text)``."""
    for text in texts:
        yield make(data=text)


async def yielding_built(texts: tuple[str, ...], make: MakeItem) -> AsyncIterator[Any]:
    """`yielding`, building each event from its data as it goes."""
    for text in texts:
        yield make(data=text)
        await asyncio.sleep(0)


def ready_stream(items: tuple[Any, ...]) -> Any:
    """An anyio memory object stream with every item already in it and its sender closed."""
    sender, receiver = anyio.create_memory_object_stream[Any](max_buffer_size=len(items))
    with sender:
        for item in items:
            sender.send_nowait(item)
    return receiver


async def forever() -> AsyncIterator[Any]:
    """An idle producer: it waits for an event that never comes."""
    await anyio.Event().wait()
    yield "never"  # pragma: no cover


def content_for(mode: str, items: tuple[Any, ...], make: MakeItem | None = None) -> Any:
    """The producer for `mode` over `items`; with `make`, the producer builds each event from
    its data with ``make(data=item)`` (a burst's memory stream holds events built beforehand,
    since they are already waiting)."""
    if make is not None:
        if mode in ("fast", "burst-gen"):
            return fast_built(items, make)
        if mode == "yield":
            return yielding_built(items, make)
        items = tuple(make(data=item) for item in items)
    if mode in ("fast", "burst-gen"):
        return fast(items)
    if mode == "yield":
        return yielding(items)
    if mode == "burst-stream":
        return ready_stream(items)
    raise ValueError(f"unknown mode {mode!r}")


# -- the app ------------------------------------------------------------------------------------


async def send_text(send: Send, status: int, text: str) -> None:
    """A small plain-text response."""
    body = text.encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def make_app(
    respond: Respond, items: Callable[[int], tuple[Any, ...]], make: MakeItem | None = None
) -> ASGIApp:
    """The benchmark app around one library's `respond`; `items(n)` are its N events (or,
    with `make`, their data, which the producers turn into events: see `content_for`)."""

    async def streams(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/stream":
            query = parse_qs(scope["query_string"].decode())
            mode, n = query["mode"][0], int(query["n"][0])
            await respond(content_for(mode, items(n), make), scope, receive, send)
        else:
            await respond(forever(), scope, receive, send)

    return with_debug_paths(streams, items)


def with_debug_paths(streams: ASGIApp, items: Callable[[int], tuple[Any, ...]]) -> ASGIApp:
    """`streams` serves ``/stream`` and ``/idle``; the ``/debug`` paths are answered here."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported scope type {scope['type']!r}")
        path = scope["path"]
        if path in ("/stream", "/idle"):
            await streams(scope, receive, send)
        elif path == "/debug/tasks":
            await send_text(send, 200, str(len(asyncio.all_tasks())))
        elif path == "/debug/cpu":
            await send_text(send, 200, repr(time.process_time()))
        elif path == "/debug/prepare":
            n = int(parse_qs(scope["query_string"].decode())["n"][0])
            await send_text(send, 200, str(len(items(n))))
        else:
            await send_text(send, 404, "not found")

    return app


def ours_app() -> ASGIApp:
    """Our binding's `EventSourceResponse`."""
    from sse_starlette_binding import EventSourceResponse  # noqa: PLC0415 (one library per server)

    async def respond(content: Any, scope: Scope, receive: Receive, send: Send) -> None:
        await EventSourceResponse(content, ping=PING_SECONDS, sep="\n")(scope, receive, send)

    return make_app(respond, texts)


def sse_starlette_app() -> ASGIApp:
    """sse-starlette 3.7's `EventSourceResponse`."""
    from sse_starlette import EventSourceResponse  # noqa: PLC0415 (one library per server)

    async def respond(content: Any, scope: Scope, receive: Receive, send: Send) -> None:
        await EventSourceResponse(content, ping=PING_SECONDS, sep="\n")(scope, receive, send)

    return make_app(respond, texts)


def fastapi_app() -> ASGIApp:
    """FastAPI's native `fastapi.sse`: generator endpoints with its `EventSourceResponse`.

    FastAPI runs the endpoint as the producer itself, so each mode is written out in the
    endpoint (the same loops as `fast`, `yielding`, `ready_stream` and `forever`) rather than
    wrapped around those generators, which would add a generator layer the others do not pay.
    """
    # One library per server process.
    from fastapi import FastAPI  # noqa: PLC0415
    from fastapi.sse import EventSourceResponse, ServerSentEvent  # noqa: PLC0415

    @functools.lru_cache(maxsize=8)
    def events(n: int) -> tuple[ServerSentEvent, ...]:
        return tuple(ServerSentEvent(raw_data=text) for text in texts(n))

    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @api.get("/stream", response_class=EventSourceResponse)
    async def stream(mode: str, n: int) -> AsyncIterator[ServerSentEvent]:
        if mode in ("fast", "burst-gen"):
            for event in events(n):
                yield event
        elif mode == "yield":
            for event in events(n):
                yield event
                await asyncio.sleep(0)
        elif mode == "burst-stream":
            async with ready_stream(events(n)) as receiver:
                async for event in receiver:
                    yield event
        else:
            raise ValueError(f"unknown mode {mode!r}")

    @api.get("/idle", response_class=EventSourceResponse)
    async def idle() -> AsyncIterator[ServerSentEvent]:
        await anyio.Event().wait()
        yield ServerSentEvent(raw_data="never")  # pragma: no cover

    return with_debug_paths(api, events)


def dropin_app(sse: types.ModuleType) -> ASGIApp:
    """sse-starlette's code, run by the library `sse` (sse_starlette, or this project's
    binding after the import change): `EventSourceResponse` with its defaults (ping 15 s,
    CRLF) over producers that yield ``sse.ServerSentEvent(data=...)``."""

    async def respond(content: Any, scope: Scope, receive: Receive, send: Send) -> None:
        await sse.EventSourceResponse(content)(scope, receive, send)

    return make_app(respond, texts, sse.ServerSentEvent)


def sse_starlette_dropin_app() -> ASGIApp:
    """The drop-in code as written for sse-starlette 3.7 (``import sse_starlette``)."""
    import sse_starlette  # noqa: PLC0415 (one library per server)

    return dropin_app(sse_starlette)


def binding_dropin_app() -> ASGIApp:
    """The same code with only the import changed (``import sse_starlette_binding``)."""
    import sse_starlette_binding  # noqa: PLC0415 (one library per server)

    return dropin_app(sse_starlette_binding)


RAW_HEADERS: Final = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]


def raw_app() -> ASGIApp:
    """The ceiling: one pre-encoded ``http.response.body`` message per event, nothing else."""

    async def respond(content: Any, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": RAW_HEADERS})
        if scope["path"] == "/idle":
            # Idle: the request task waits for the client to leave, and that is all.
            while (await receive())["type"] != "http.disconnect":
                pass
        else:
            async for chunk in content:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return make_app(respond, wires)


def streaming_response_app() -> ASGIApp:
    """The idle reference: Starlette's plain `StreamingResponse` over `forever`, the same
    producer the Starlette libraries' ``/idle`` gets. It serves no ``/stream``: it writes no
    events, so it cannot write the same bytes as the others."""
    from starlette.responses import StreamingResponse  # noqa: PLC0415 (one library per server)

    async def streams(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/idle":
            response = StreamingResponse(forever(), media_type="text/event-stream")
            await response(scope, receive, send)
        else:
            await send_text(send, 404, "not found")

    return with_debug_paths(streams, texts)
