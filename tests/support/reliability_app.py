"""The ASGI app that the reliability scenarios (`support.reliability`) serve with real servers.

Servers import it as ``reliability_app:app`` with ``tests/support`` on ``sys.path``. Like
``tests/sse_starlette_binding/server_app.py``, it records what its producers do from inside the
server process, one fact per line, appended to the file named by ``$SSE_TEST_RECORD`` (opened,
appended and closed per line, so concurrent writers are fine), for the scenarios to read from
outside:

- ``start <id>``: the producer began (its first item was asked for);
- ``cleanup <id>``: the producer's ``finally`` began (the stream ended, however it ended);
- ``cleanup-done <id>``: a producer with a slow cleanup got to the end of it.

Every stream endpoint takes its ``id`` as a query parameter, and its knobs as query parameters
too, so one app serves every scenario:

``/stats?gc=1``
    JSON: the server process's task count (its own request task included), thread count and,
    with ``gc=1``, after a full collection, the number of objects the garbage collector tracks
    and the live instances of each of `STREAM_TYPES`.
``/idle``
    One ``hello`` event, then nothing but keep-alive pings (``ping``, default 60 s).
``/ticks``
    An endless ``tick`` every ``interval`` seconds (0.05), the first at once; each tick's data
    is the server's ``time.monotonic()`` when the producer yielded it (CLOCK_MONOTONIC is one
    clock for every process on Linux, so a client on the same machine can compute latency).
    ``sync=1`` produces from a sync generator instead (run in worker threads). Any method:
    a request body is accepted and ignored.
``/flood``
    Events of ``size`` bytes (16 KiB) as fast as the client takes them; ``send_timeout``
    (none unless given).
``/misbehave?kind=K``
    A producer that misbehaves in the way `MISBEHAVIOURS` describes; ``cleanup_timeout``.
``/last-event-id``
    One ``resume`` event whose data is ``repr(last_event_id(request))``, then the end.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Final

import anyio
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from sse_starlette_binding import EventSourceResponse, last_event_id
from support.recording import health, query_seconds, record

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from starlette.requests import Request

STREAM_TYPES: Final = (
    # The binding's per-stream state,
    "EventSourceResponse",
    "Delivery",
    "ShutdownListener",
    "_SyncIterator",
    # what runs it (the producer, its tasks and cancel scopes; not "generator": idle worker
    # threads, which anyio keeps for 10 s, hold one each),
    "async_generator",
    "coroutine",
    "Task",
    "CancelScope",
    "TaskGroup",
    # and what the framework and the server keep per request and per connection.
    "Request",
    "RequestResponseCycle",
    "HttpToolsProtocol",
    "H11Protocol",
)
"""Types whose live instances ``/stats?gc=1`` counts: what a stream leaves behind if it leaks."""
ALL_METHODS: Final = ["GET", "POST", "PUT"]

MISBEHAVIOURS: Final = {
    "raise-first": "raises before its first event",
    "raise-later": "sends one event, then raises",
    "hang": "sends one event, then awaits forever without yielding (pings keep the line up)",
    "invalid-id": "yields an event whose id holds a line feed",
    "invalid-none": "yields None",
    "invalid-nan": "yields JSON data holding NaN",
    "invalid-surrogate": "yields a str holding a lone surrogate (not encodable as UTF-8)",
    "invalid-object": "yields an object that is not JSON-serializable",
    "slow-cleanup": "yields an invalid item; its cleanup then awaits for an hour",
    "swallowing-cleanup": "yields an invalid item; its cleanup awaits for an hour and "
    "swallows the cancellation that cleanup_timeout sends",
}
"""What each ``/misbehave?kind=`` producer does; every one sends an ``ok`` event first, except
``raise-first``."""


def _task_count() -> int:
    """Tasks alive in this event loop: asyncio's, or trio's (walked from the root task)."""
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:
        pass  # no asyncio loop running: anyio runs on trio
    import trio  # noqa: PLC0415 (only under trio)

    root = trio.lowlevel.current_root_task()
    count = 0
    todo = [root] if root is not None else []
    while todo:
        task = todo.pop()
        count += 1
        for nursery in task.child_nurseries:
            todo.extend(nursery.child_tasks)
    return count


async def stats(request: Request) -> Response:
    figures: dict[str, Any] = {"tasks": _task_count(), "threads": threading.active_count()}
    if request.query_params.get("gc") == "1":
        gc.collect()
        objects = gc.get_objects()
        figures["objects"] = len(objects)
        per_type = dict.fromkeys(STREAM_TYPES, 0)
        for obj in objects:
            name = type(obj).__name__
            if name in per_type:
                per_type[name] += 1
        figures["stream_objects"] = per_type
    return Response(json.dumps(figures), media_type="application/json")


async def idle(request: Request) -> EventSourceResponse:
    stream_id = request.query_params["id"]

    async def events() -> AsyncIterator[dict[str, Any]]:
        record(f"start {stream_id}")
        try:
            yield {"event": "hello", "data": stream_id}
            await anyio.sleep_forever()
        finally:
            record(f"cleanup {stream_id}")

    return EventSourceResponse(events(), ping=query_seconds(request, "ping", 60))


async def ticks(request: Request) -> EventSourceResponse:
    stream_id = request.query_params["id"]
    interval = query_seconds(request, "interval", 0.05) or 0.0

    async def async_ticks() -> AsyncIterator[dict[str, Any]]:
        record(f"start {stream_id}")
        try:
            n = 0
            while True:
                yield {"event": "tick", "id": str(n), "data": repr(time.monotonic())}
                n += 1
                await anyio.sleep(interval)
        finally:
            record(f"cleanup {stream_id}")

    def sync_ticks() -> Iterator[dict[str, Any]]:
        record(f"start {stream_id}")
        try:
            n = 0
            while True:
                yield {"event": "tick", "id": str(n), "data": repr(time.monotonic())}
                n += 1
                time.sleep(interval)
        finally:
            record(f"cleanup {stream_id}")

    content = sync_ticks() if request.query_params.get("sync") == "1" else async_ticks()
    return EventSourceResponse(
        content,
        ping=query_seconds(request, "ping", None),
        send_timeout=query_seconds(request, "send_timeout", None),
    )


async def flood(request: Request) -> EventSourceResponse:
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

    return EventSourceResponse(events(), send_timeout=query_seconds(request, "send_timeout", None))


async def misbehave(request: Request) -> EventSourceResponse:
    stream_id = request.query_params["id"]
    kind = request.query_params["kind"]
    if kind not in MISBEHAVIOURS:
        raise ValueError(f"unknown kind {kind!r}")
    invalid: dict[str, Any] = {
        "invalid-id": {"id": "a\nb", "data": "injected"},
        "invalid-none": None,
        "invalid-nan": {"data": {"value": math.nan}},
        "invalid-surrogate": "lone \ud800 surrogate",
        "invalid-object": object(),
    }

    async def events() -> AsyncIterator[Any]:
        record(f"start {stream_id}")
        try:
            if kind == "raise-first":
                raise RuntimeError(f"{stream_id}: failed before the first event")
            yield {"event": "ok", "data": stream_id}
            if kind == "raise-later":
                raise RuntimeError(f"{stream_id}: failed after the first event")
            if kind == "hang":
                await anyio.sleep_forever()
            # The slow cleanups need the producer suspended at a yield when the stream ends,
            # so that the response closes it with `aclose()`, under `cleanup_timeout`.
            yield invalid.get(kind, object())
        finally:
            record(f"cleanup {stream_id}")
            if kind == "slow-cleanup":
                await anyio.sleep(3600)
            elif kind == "swallowing-cleanup":
                try:
                    await anyio.sleep(3600)
                except anyio.get_cancelled_exc_class():
                    record(f"swallowed {stream_id}")
            record(f"cleanup-done {stream_id}")

    return EventSourceResponse(
        events(),
        ping=query_seconds(request, "ping", None),
        cleanup_timeout=query_seconds(request, "cleanup_timeout", 30.0),
    )


async def resume(request: Request) -> EventSourceResponse:
    return EventSourceResponse([{"event": "resume", "data": repr(last_event_id(request))}])


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/stats", stats),
        Route("/idle", idle),
        Route("/ticks", ticks, methods=ALL_METHODS),
        Route("/flood", flood),
        Route("/misbehave", misbehave),
        Route("/last-event-id", resume),
    ]
)
