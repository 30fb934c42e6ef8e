"""The ASGI apps that `fastapi_streaming.py` serves with uvicorn, one library per server process.

uvicorn loads one of the factories below (``--factory --app-dir benchmarks
_fastapi_apps:ours_app``). Each factory imports only its own streaming library, so
sse-starlette's import-time patching of uvicorn never runs in the server that measures our
binding or FastAPI's. Every app answers the same paths with the same items and writes the same
bytes, ``data: <the item as compact JSON>`` and an LF line end per event (FastAPI's format):

``GET /stream?mode=M&n=N``
    N `Item` s from a typed endpoint (``-> AsyncIterator[Item]``). Modes: ``fast`` (the
    endpoint never waits) and ``yield`` (it awaits ``asyncio.sleep(0)`` after each item, a
    token-stream shape).
``POST /chat`` with a JSON `Prompt` body
    ``count`` items, awaiting ``asyncio.sleep(0)`` after each one: an LLM-style token stream,
    the body validated by FastAPI first.
``/debug/cpu`` and ``/debug/prepare?n=N``
    As in `_stream_apps`: the server's CPU seconds, and building the N items before a timed
    request so that no timing includes it.

The rows:

- ``ours_app``: `sse_fastapi_binding` (``enable_event_streams`` and its `EventSourceResponse`).
- ``fastapi_sse_app``: FastAPI's native SSE (``response_class=fastapi.sse.EventSourceResponse``
  on the same generator endpoint; FastAPI's router encodes the items).
- ``sse_starlette_app`` (context, not a target): a FastAPI endpoint that returns
  ``sse_starlette.EventSourceResponse(..., sep="\\n")`` over a generator that validates and
  serializes each item with the same pydantic `TypeAdapter` calls FastAPI makes, so that it
  does the same work and writes the same bytes.
- ``raw_app`` (the ceiling, context): a bare ASGI app with no FastAPI, which sends each event
  already encoded as its own ``http.response.body`` message and does nothing else.

The endpoints yield items that were built before the request (`items`): building them costs the
same in every library, and leaving it out shows the libraries' own cost per event more clearly.
Everything else a real endpoint does per item (validation against the declared type,
serialization, framing, writing) is inside the timing. This module must not use ``from
__future__ import annotations``: FastAPI and our binding read the endpoints' annotations at
runtime, and the names in them must be real objects then.
"""

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qs

from _stream_apps import RAW_HEADERS, ASGIApp, Receive, Scope, Send, send_text
from pydantic import BaseModel, TypeAdapter

if TYPE_CHECKING:
    from fastapi import FastAPI

# Keep-alive pings every 15 s in every library, far longer than any stream here (FastAPI's is
# fixed at 15 s; the others are told the same).
PING_SECONDS: Final = 15


class Item(BaseModel):
    """The one item type every endpoint yields: an int, a str of about 40 chars and a float."""

    n: int
    text: str
    score: float


class Prompt(BaseModel):
    """The JSON body of ``POST /chat``: the prompt and how many tokens to answer with."""

    text: str
    count: int


def item_text(n: int) -> str:
    """The `text` of item `n`: 40 characters for n below 10 million."""
    return f"token {n:07d} of a typed event stream!!"


def item_score(n: int) -> float:
    """The `score` of item `n`: quarters, so every library prints it the same short way."""
    return n / 4


@functools.lru_cache(maxsize=8)
def items(n: int) -> tuple[Item, ...]:
    """N items, built once per N before timing (``/debug/prepare``)."""
    return tuple(Item(n=i, text=item_text(i), score=item_score(i)) for i in range(n))


@functools.lru_cache(maxsize=8)
def wires(n: int) -> tuple[bytes, ...]:
    """The same N items as the event bytes every library writes, for the raw ASGI app."""
    adapter = TypeAdapter(Item)
    return tuple(b"data: " + adapter.dump_json(item) + b"\n\n" for item in items(n))


# -- the FastAPI apps ---------------------------------------------------------------------------


def add_debug_routes(app: "FastAPI") -> None:
    """``/debug/cpu`` and ``/debug/prepare`` on a FastAPI app."""
    from fastapi.responses import PlainTextResponse  # noqa: PLC0415 (FastAPI apps only)

    @app.get("/debug/cpu", response_class=PlainTextResponse)
    async def debug_cpu() -> str:
        return repr(time.process_time())

    @app.get("/debug/prepare", response_class=PlainTextResponse)
    async def debug_prepare(n: int) -> str:
        return str(len(items(n)))


def add_typed_routes(app: "FastAPI", response_class: type) -> None:
    """The typed streaming endpoints, with `response_class` marking them as event streams.

    The endpoints are the producers themselves (no wrapper generator), exactly as a user
    writes them, so each library adds only its own machinery around them.
    """

    @app.get("/stream", response_class=response_class)
    async def stream(mode: str, n: int) -> AsyncIterator[Item]:
        if mode == "yield":
            for item in items(n):
                yield item
                await asyncio.sleep(0)
        else:
            for item in items(n):
                yield item

    @app.post("/chat", response_class=response_class)
    async def chat(prompt: Prompt) -> AsyncIterator[Item]:
        for item in items(prompt.count):
            yield item
            await asyncio.sleep(0)


def ours_app() -> ASGIApp:
    """Our binding: ``enable_event_streams(app)`` and its `EventSourceResponse`."""
    from fastapi import FastAPI  # noqa: PLC0415 (one library per server)

    from sse_fastapi_binding import (  # noqa: PLC0415 (one library per server)
        EventSourceResponse,
        enable_event_streams,
    )

    app = FastAPI()
    enable_event_streams(app)  # before the routes, as the binding requires
    add_debug_routes(app)
    add_typed_routes(app, EventSourceResponse)
    return app


def fastapi_sse_app() -> ASGIApp:
    """FastAPI's native SSE: ``response_class=fastapi.sse.EventSourceResponse``."""
    from fastapi import FastAPI  # noqa: PLC0415 (one library per server)
    from fastapi.sse import EventSourceResponse  # noqa: PLC0415 (one library per server)

    app = FastAPI()
    add_debug_routes(app)
    add_typed_routes(app, EventSourceResponse)
    return app


def sse_starlette_app() -> ASGIApp:
    """sse-starlette 3.7's `EventSourceResponse` returned by FastAPI endpoints (LF line ends)."""
    from fastapi import FastAPI  # noqa: PLC0415 (one library per server)
    from sse_starlette import EventSourceResponse  # noqa: PLC0415 (one library per server)

    adapter = TypeAdapter(Item)

    def serialized(item: Item) -> str:
        # What FastAPI does to a typed endpoint's item: validate it against the declared type,
        # then serialize it to JSON; sse-starlette has no typed endpoints, so the producer does.
        return adapter.dump_json(adapter.validate_python(item)).decode()

    async def produce(count: int, *, wait: bool) -> AsyncIterator[str]:
        for item in items(count):
            yield serialized(item)
            if wait:
                await asyncio.sleep(0)

    app = FastAPI()
    add_debug_routes(app)

    @app.get("/stream")
    async def stream(mode: str, n: int) -> EventSourceResponse:
        return EventSourceResponse(produce(n, wait=mode == "yield"), ping=PING_SECONDS, sep="\n")

    @app.post("/chat")
    async def chat(prompt: Prompt) -> EventSourceResponse:
        return EventSourceResponse(produce(prompt.count, wait=True), ping=PING_SECONDS, sep="\n")

    return app


# -- the raw ASGI ceiling -----------------------------------------------------------------------


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the client left before sending its body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def raw_app() -> ASGIApp:
    """The ceiling: one pre-encoded ``http.response.body`` message per event, nothing else."""

    async def respond(send: Send, wire: tuple[bytes, ...], *, wait: bool) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": RAW_HEADERS})
        for chunk in wire:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if wait:
                await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"unsupported scope type {scope['type']!r}")
        path = scope["path"]
        query = parse_qs(scope["query_string"].decode())
        if path == "/stream":
            mode, n = query["mode"][0], int(query["n"][0])
            await respond(send, wires(n), wait=mode == "yield")
        elif path == "/chat":
            prompt = json.loads(await read_body(receive))
            await respond(send, wires(int(prompt["count"])), wait=True)
        elif path == "/debug/cpu":
            await send_text(send, 200, repr(time.process_time()))
        elif path == "/debug/prepare":
            await send_text(send, 200, str(len(wires(int(query["n"][0])))))
        else:
            await send_text(send, 404, "not found")

    return app
