"""`ServerSentEvent`: one event as an immutable, validated value."""

from __future__ import annotations

__all__ = ["ServerSentEvent", "SupportsServerSentEvent"]

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ._errors import InvalidEventError
from ._json import JSONDumps, to_json_text


def _check_writable(field: str, value: str) -> None:
    # Output is UTF-8 (SPEC invariant 7). `isascii()` is O(1) on CPython's compact strings, so
    # only non-ASCII text pays for the trial encoding that finds lone surrogates.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidEventError(
                field,
                f"character {value[exc.start]!r} at index {exc.start} cannot be encoded as UTF-8 "
                "(a lone surrogate)",
            ) from None


def _check_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the {field!r} field must be a str or None, not {type(value).__name__}")
    return value


def _check_single_line(field: str, value: object) -> str:
    text = _check_str(field, value)
    # A line break would end the field early, and whatever follows would be read as a new field
    # (or end the event): refusing it is the only way to keep what the client sees equal to what
    # the caller wrote. Silently stripping it would hide the bug, or an injection.
    if "\n" in text or "\r" in text:
        raise InvalidEventError(field, "must not contain a line break (CR or LF)")
    _check_writable(field, text)
    return text


def validate_event(  # noqa: PLR0917 - mirrors the five event fields, positionally, for speed
    data: object, event: object, id: object, retry: object, comment: object
) -> None:
    """Raise `InvalidEventError` or `TypeError` unless the fields form a writable event."""
    if data is not None:
        _check_writable("data", _check_str("data", data))
    if event is not None:
        _check_single_line("event", event)
    if id is not None:
        # WHATWG: "If the field value does not contain U+0000 NULL, then set the last event ID
        # buffer to the field value. Otherwise, ignore the field." An id with NUL would be
        # dropped by every client, so it is refused here rather than lost there.
        if "\0" in _check_single_line("id", id):
            raise InvalidEventError("id", "must not contain NUL (clients ignore such an id)")
    if retry is not None:
        # `bool` is an `int` subclass; `retry=True` is a bug, never a delay.
        if isinstance(retry, bool) or not isinstance(retry, int):
            raise TypeError(f"the 'retry' field must be an int or None, not {type(retry).__name__}")
        if retry < 0:
            raise InvalidEventError("retry", f"must be >= 0 milliseconds, got {retry}")
    if comment is not None:
        _check_writable("comment", _check_str("comment", comment))


@dataclass(frozen=True, slots=True, init=False)
class ServerSentEvent:
    """One Server-Sent Event: an immutable, hashable, validated value.

    Every field is optional. `data` is text: line breaks in it (LF, CR or CRLF) are written as
    separate ``data:`` lines, which every client joins back with LF. `data=None` writes no data
    line, so a client dispatches nothing (an `id` or `retry` still takes effect); `data=""`
    writes one empty data line, so a client dispatches an event with empty data.

    `event` and `id` must be single lines, and `id` must not contain NUL; `retry` is the
    reconnection delay in milliseconds, an `int >= 0`; `comment` is written as comment lines,
    which clients ignore. Invalid values raise `InvalidEventError` (a `ValueError`) naming the
    field; values of the wrong type raise `TypeError`.

    >>> from sse_core import ServerSentEvent, encode
    >>> encode(ServerSentEvent("line 1\\nline 2", event="update", id="7"))
    b'id: 7\\nevent: update\\ndata: line 1\\ndata: line 2\\n\\n'
    """

    data: str | None
    event: str | None
    id: str | None
    retry: int | None
    comment: str | None

    def __init__(
        self,
        data: str | None = None,
        *,
        event: str | None = None,
        id: str | None = None,  # noqa: A002 - the field's name on the wire
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        validate_event(data, event, id, retry, comment)
        if retry is not None and type(retry) is not int:
            retry = int(retry)  # an IntEnum or other int subclass is written as its number
        set_field = object.__setattr__
        set_field(self, "data", data)
        set_field(self, "event", event)
        set_field(self, "id", id)
        set_field(self, "retry", retry)
        set_field(self, "comment", comment)

    @classmethod
    def from_json(
        cls,
        value: Any,
        *,
        event: str | None = None,
        id: str | None = None,  # noqa: A002 - the field's name on the wire
        retry: int | None = None,
        comment: str | None = None,
        json_dumps: JSONDumps | None = None,
    ) -> ServerSentEvent:
        """Make an event whose data is `value` serialized as compact JSON.

        Pydantic models are serialized by pydantic; anything else by `json_dumps` when given
        (orjson's and msgspec's `dumps` fit), or else by the standard library with no spaces,
        `ensure_ascii=False` and `allow_nan=False` (NaN and infinities are not JSON).

        >>> ServerSentEvent.from_json({"n": 1}, event="tick").data
        '{"n":1}'
        """
        return cls(
            to_json_text(value, json_dumps), event=event, id=id, retry=retry, comment=comment
        )


@runtime_checkable
class SupportsServerSentEvent(Protocol):
    """An object that knows which `ServerSentEvent` it stands for (typed event models do)."""

    def to_server_sent_event(self) -> ServerSentEvent:
        """Return the event this object stands for."""
        ...
