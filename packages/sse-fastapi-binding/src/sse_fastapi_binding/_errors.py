"""The FastAPI binding's errors, under the Starlette binding's `EventStreamError`."""

from __future__ import annotations

__all__ = ["EventStreamClosed"]

from sse_starlette_binding import EventStreamError


class EventStreamClosed(EventStreamError):
    """`EventStream.send` was called after the stream ended.

    The client left, the server shut down, or the stream was closed. A task that pushes events
    to many streams (a fan-out hub) catches it and forgets that stream.
    """
