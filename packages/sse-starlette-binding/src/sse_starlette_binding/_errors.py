"""The binding's errors: one hierarchy, rooted in sse_core's `SSEError`."""

from __future__ import annotations

__all__ = ["EventStreamError", "SendTimeoutError"]

from sse_core import SSEError


class EventStreamError(SSEError):
    """Base class of the errors an event-stream response raises while it is being sent."""


class SendTimeoutError(EventStreamError, TimeoutError):
    """The client did not take a write within `send_timeout` seconds, so it was dropped.

    Raised out of the response (a `TimeoutError`, as in sse-starlette) after the producer was
    stopped and its cleanup ran. The server logs it and gives up on the response; uvicorn still
    holds the socket until the client reads or leaves (see the shutdown notes in the docs).
    """
