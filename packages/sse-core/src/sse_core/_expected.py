"""What a spec-compliant client receives for events sse_core wrote, computed from the events.

The parser is one referee of a round trip; this is the other, written from the events alone, so
that a property over `sse_core.strategies` is one comparison:
``parse(wire) == dispatched_events(events)``. It follows WHATWG HTML, "Server-sent events",
section "Interpreting an event stream", applied to the lines sse_core writes for each event.
`sse_core.strategies` re-exports it; it imports only the standard library.
"""

from __future__ import annotations

__all__ = ["ReconnectionState", "dispatched_events", "reconnection_state"]

from typing import TYPE_CHECKING, Final, NamedTuple

from ._event import ServerSentEvent
from ._parsed_event import ParsedEvent

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._event import SupportsServerSentEvent

# Browsers keep the reconnection time in a 64-bit integer and ignore a larger value; so does
# `EventParser`.
_MAX_RETRY: Final = 2**64 - 1


def _as_event(item: ServerSentEvent | SupportsServerSentEvent) -> ServerSentEvent:
    if isinstance(item, ServerSentEvent):
        return item
    to_event = getattr(item, "to_server_sent_event", None)
    if to_event is None:
        raise TypeError(
            f"expected a ServerSentEvent or an object with to_server_sent_event(), "
            f"got {type(item).__name__}"
        )
    event = to_event()
    if not isinstance(event, ServerSentEvent):
        raise TypeError(
            f"{type(item).__name__}.to_server_sent_event() returned "
            f"{type(event).__name__}, not a ServerSentEvent"
        )
    return event


def dispatched_events(
    events: Iterable[ServerSentEvent | SupportsServerSentEvent], *, last_event_id: str = ""
) -> list[ParsedEvent]:
    """The events a spec-compliant client dispatches when it reads `events` encoded in order.

    The result has the shape `EventParser.feed` returns, so a round trip is one comparison,
    whatever the line terminator and however the bytes were cut:

    - an event with ``data=None`` dispatches nothing (its `id` still takes effect);
      ``data=""`` dispatches an event with empty data;
    - CR and CRLF inside data arrive as LF (the format cannot carry them); every other
      character, U+2028 and NUL included, arrives as it was;
    - the type is ``"message"`` when `event` is None or empty;
    - `id` persists: an event without one carries the last id sent before it (or
      `last_event_id`, the id a reconnecting client starts from, "" for a fresh one), and an
      empty id resets it to "";
    - `retry` and comments are never dispatched.

    Objects with a ``to_server_sent_event()`` method (`sse_core.pydantic.EventModel`) count as
    the event they return.

    >>> from sse_core import ServerSentEvent
    >>> dispatched_events([
    ...     ServerSentEvent("a\\r\\nb", id="1", retry=500),
    ...     ServerSentEvent(comment="ping"),
    ...     ServerSentEvent("", event="tick"),
    ... ])
    [ParsedEvent(event='message', data='a\\nb', id='1'), ParsedEvent(event='tick', data='', id='1')]
    """
    dispatched: list[ParsedEvent] = []
    current_id = last_event_id
    for item in events:
        event = _as_event(item)
        # "If the field name is "id": [...] set the last event ID buffer to the field value";
        # sse_core refuses an id with NUL, the one value a client would ignore.
        if event.id is not None:
            current_id = event.id
        # "If the data buffer is an empty string, [...] return": no data line, no event.
        if event.data is None:
            continue
        data = event.data
        if "\r" in data:
            # Each of CRLF, CR and LF ends a data line; the client joins the lines with LF.
            data = data.replace("\r\n", "\n").replace("\r", "\n")
        dispatched.append(ParsedEvent(event.event or "message", data, current_id))
    return dispatched


class ReconnectionState(NamedTuple):
    """What a client reconnects with after a stream: the ``Last-Event-ID`` it sends and the
    reconnection time in milliseconds (None when no usable ``retry`` came).

    A tuple, so it compares equal to ``(parser.last_event_id, parser.retry)``.
    """

    last_event_id: str
    retry: int | None


def reconnection_state(
    events: Iterable[ServerSentEvent | SupportsServerSentEvent],
    *,
    last_event_id: str = "",
    retry: int | None = None,
) -> ReconnectionState:
    """The last event ID and reconnection time a client holds after reading `events`.

    `last_event_id` and `retry` are what it held before the stream (a reconnecting client's).
    Every `id` counts, also on an event without data; a `retry` above 2**64 - 1 is ignored,
    as browsers and `EventParser` ignore it.

    >>> from sse_core import ServerSentEvent
    >>> reconnection_state([ServerSentEvent("x", id="7", retry=3000), ServerSentEvent(id="8")])
    ReconnectionState(last_event_id='8', retry=3000)
    """
    current_id = last_event_id
    current_retry = retry
    for item in events:
        event = _as_event(item)
        if event.id is not None:
            current_id = event.id
        if event.retry is not None and event.retry <= _MAX_RETRY:
            current_retry = event.retry
    return ReconnectionState(current_id, current_retry)
