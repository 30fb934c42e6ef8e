"""Reading what a reconnecting client tells the server."""

from __future__ import annotations

__all__ = ["last_event_id"]

from typing import TYPE_CHECKING

from sse_core import last_event_id_from_header

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection


def last_event_id(request: HTTPConnection) -> str | None:
    """The id of the last event the client received before it reconnected, or None.

    Browsers send it in the ``Last-Event-ID`` header as UTF-8; Starlette decodes headers as
    latin-1, which garbles any non-ASCII id. This returns the id as it was sent, or None when
    the header is absent, empty, or not an id a server could have written.

    >>> from starlette.requests import Request
    >>> scope = {"type": "http", "headers": [(b"last-event-id", "café-7".encode())]}
    >>> last_event_id(Request(scope))
    'café-7'
    """
    return last_event_id_from_header(request.headers.get("last-event-id"))
