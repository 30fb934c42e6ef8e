"""The error hierarchy of sse_core: everything it raises on purpose derives from `SSEError`."""

from __future__ import annotations

__all__ = ["BufferLimitExceeded", "InvalidEventError", "SSEError"]

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._parsed_event import ParsedEvent


class SSEError(Exception):
    """Base class of every error sse_core raises on purpose."""


class InvalidEventError(SSEError, ValueError):
    """An event field holds a value that cannot be written to an event stream.

    `field` names the offending field (``"data"``, ``"event"``, ``"id"``, ``"retry"`` or
    ``"comment"``) and `reason` says what is wrong with it; both appear in the message.
    """

    field: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid {field!r} field: {reason}")
        self.field = field
        self.reason = reason


class BufferLimitExceeded(SSEError):
    """The parser was asked to buffer more than its `max_buffer_size` for one event.

    A well-behaved stream never gets here: it means a line or an event without end, which a
    client should treat as a broken stream. `events` holds the events the same `feed` call had
    already completed, so none of them is lost; the parser is closed afterwards.
    """

    events: list[ParsedEvent]

    def __init__(self, limit: int, events: list[ParsedEvent]) -> None:
        super().__init__(
            f"an unfinished event or line exceeds the parser's limit of {limit} characters"
        )
        self.limit = limit
        self.events = events
