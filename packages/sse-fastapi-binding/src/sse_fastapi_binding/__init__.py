"""Dependency-injected, typed Server-Sent Event streams for FastAPI.

Built on sse_starlette_binding (pings, send timeouts, disconnects, shutdown and write
coalescing come from there) and sse_core (every byte on the wire).

>>> from collections.abc import AsyncIterator
>>> from typing import Annotated
>>> from fastapi import FastAPI
>>> from pydantic import BaseModel
>>> from sse_fastapi_binding import EventSourceResponse, EventStream, Stream, enable_event_streams
>>> class Tick(BaseModel):
...     n: int
>>> app = FastAPI()
>>> enable_event_streams(app)
>>> Ticks = Annotated[EventStream[Tick], Stream(ping=5, retry=3000)]
>>> @app.get("/ticks", response_class=EventSourceResponse)
... async def ticks(stream: Ticks) -> AsyncIterator[Tick]:
...     start = int(stream.last_event_id or 0)
...     for n in range(start + 1, start + 4):
...         yield Tick(n=n)
"""

from ._errors import EventStreamClosed
from ._response import EventSourceResponse
from ._routing import EventStreamRoute, enable_event_streams
from ._stream import EventStream, Stream, StreamSettings

__all__ = [
    "EventSourceResponse",
    "EventStream",
    "EventStreamClosed",
    "EventStreamRoute",
    "Stream",
    "StreamSettings",
    "enable_event_streams",
]

__version__ = "0.1.0"
