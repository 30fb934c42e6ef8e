"""A FastAPI app whose notes reach every subscriber, on one worker or many (with Redis).

Serve it with one worker, channels in memory:

    uv run uvicorn --app-dir examples fastapi_broadcast:app

or with several workers sharing the channels through Redis:

    export REDIS_URL=redis://127.0.0.1:6379/0
    uv run uvicorn --app-dir examples --workers 2 fastapi_broadcast:app

Then follow and post (each request may land on either worker):

    curl -N http://127.0.0.1:8000/notes/events
    curl -X POST http://127.0.0.1:8000/notes -H 'Content-Type: application/json' \\
         -d '{"author": "ann", "text": "hello"}'

A client that reconnects with ``Last-Event-ID`` gets the notes it missed, from any worker.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from sse_broadcast import Backend, Broadcast, MemoryBackend
from sse_fastapi_binding import EventSourceResponse
from sse_starlette_binding import last_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def make_backend() -> Backend:
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        from sse_broadcast.redis import RedisBackend  # noqa: PLC0415 (needs the redis extra)

        return RedisBackend.from_url(redis_url, history=1000, ttl=3600, prefix="notes-example:")
    return MemoryBackend(history=1000, ttl=3600)


broadcast = Broadcast(make_backend())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with broadcast:  # one per worker process: its Redis reader, or its memory
        yield


app = FastAPI(title="sse-broadcast example", lifespan=lifespan)


class Note(BaseModel):
    author: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=500)


class Published(BaseModel):
    id: str


@app.post("/notes")
async def post_note(note: Note) -> Published:
    # Validated by FastAPI, serialized by pydantic once, whatever the number of subscribers.
    return Published(id=await broadcast.publish("notes", {"event": "note", "data": note}))


@app.get("/notes/events", response_class=EventSourceResponse)
async def note_events(request: Request) -> EventSourceResponse:
    subscription = broadcast.subscribe("notes", last_event_id=last_event_id(request))
    # The headers go out at once (a quiet channel must not look like a hung request); the
    # pings keep proxies from closing a quiet stream.
    return EventSourceResponse(subscription, ping=15, hold_headers=False)


@app.get("/health", response_class=PlainTextResponse)
async def health() -> str:
    return "ok"
