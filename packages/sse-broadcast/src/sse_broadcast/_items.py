"""What may be published: the items sse_core encodes, turned into one event without an id."""

from __future__ import annotations

__all__ = ["event_template", "with_id"]

from collections.abc import Mapping
from typing import Any, Final

from sse_core import ServerSentEvent

from ._errors import EventIdError

_FIELDS: Final = frozenset(("data", "event", "retry", "comment"))


def event_template(item: Any) -> ServerSentEvent:
    """The event `item` stands for, validated, without an id (the broadcast assigns it).

    `item` is what a stream could yield: a `str` (the data), a `ServerSentEvent` or an object
    with ``to_server_sent_event()``, a mapping of event fields (``data``, ``event``, ``retry``,
    ``comment``; non-text ``data`` is sent as JSON), or any other JSON-able value or pydantic
    model (the data, as compact JSON). Already-encoded `bytes` are refused: they cannot be
    given an id. So is an item with an id of its own (`EventIdError`).

    >>> event_template({"event": "token", "data": {"text": "Hi"}})
    ServerSentEvent(data='{"text":"Hi"}', event='token', id=None, retry=None, comment=None)
    """
    if type(item) is str:
        return ServerSentEvent(item)
    if isinstance(item, ServerSentEvent):
        return _without_id(item, "a ServerSentEvent")
    if isinstance(item, bytes | bytearray | memoryview):
        raise TypeError(
            "cannot publish already-encoded bytes: the broadcast must give every event its id; "
            "publish the data as str, or a ServerSentEvent without an id"
        )
    if isinstance(item, Mapping):
        return _from_mapping(item)
    to_event = getattr(item, "to_server_sent_event", None)
    if to_event is not None:
        event = to_event()
        if not isinstance(event, ServerSentEvent):
            raise TypeError(
                f"{type(item).__name__}.to_server_sent_event() returned "
                f"{type(event).__name__}, not a ServerSentEvent"
            )
        return _without_id(event, f"{type(item).__name__}.to_server_sent_event()")
    if isinstance(item, str):  # a str subclass: its text, as sse_core encodes it
        return ServerSentEvent(str(item))
    if item is None:
        raise TypeError("cannot publish None: publish ServerSentEvent() for an event without data")
    return ServerSentEvent.from_json(item)


def with_id(template: ServerSentEvent, event_id: str) -> ServerSentEvent:
    """`template` with its id: built (and encoded) once, then shared by every subscriber."""
    return ServerSentEvent(
        template.data,
        event=template.event,
        id=event_id,
        retry=template.retry,
        comment=template.comment,
    )


def _without_id(event: ServerSentEvent, what: str) -> ServerSentEvent:
    if event.id is not None:
        raise EventIdError(
            f"{what} has the id {event.id!r}: a broadcast assigns ids itself (an id is the "
            "event's place in its channel's history); publish it without one"
        )
    return event


def _from_mapping(fields: Mapping[str, Any]) -> ServerSentEvent:
    if "id" in fields:
        raise EventIdError(
            f"the item has the id {fields['id']!r}: a broadcast assigns ids itself (an id is "
            "the event's place in its channel's history); publish it without one"
        )
    unknown = fields.keys() - _FIELDS
    if unknown:
        raise TypeError(
            f"unknown event field(s) {sorted(map(str, unknown))}: a published mapping may only "
            "hold 'data', 'event', 'retry' and 'comment'"
        )
    data = fields.get("data")
    if data is not None and not isinstance(data, str):
        data = ServerSentEvent.from_json(data).data
    return ServerSentEvent(
        data, event=fields.get("event"), retry=fields.get("retry"), comment=fields.get("comment")
    )
