"""`ParsedEvent`: what the parser hands out, one event as a client receives it."""

from __future__ import annotations

__all__ = ["ParsedEvent"]

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """An event as a client receives it (the `MessageEvent` a browser dispatches).

    `event` is the event type, ``"message"`` when the stream named none. `data` has its lines
    joined with LF, whatever line breaks the stream used. `id` is the last event ID in effect
    when the event was dispatched (the browser's ``lastEventId``): an event without an ``id``
    field carries the previous event's id.
    """

    event: str
    data: str
    id: str
