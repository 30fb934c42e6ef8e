"""The one place where event fields become event-stream bytes.

Every encoding path (`ServerSentEvent`, mappings, plain text) ends here, so the wire-format rules
are written once. The function validates while it writes, because validation and writing look
at the same characters: one pass instead of two is what keeps encoding fast.
"""

from __future__ import annotations

__all__ = ["DataText", "event_bytes", "text_data", "text_event_bytes"]

from collections.abc import Callable
from typing import NoReturn, TypeAlias

from ._errors import InvalidEventError

DataText: TypeAlias = Callable[[object], str]
"""Turns `data` that is not a `str` into the text to write, or raises (see `event_bytes`)."""


def text_event_bytes(data: str) -> bytes:
    """The bytes of an event whose only field is `data` (which must be a `str`)."""
    # WHATWG: lines end with "a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair,
    # a single U+000A LINE FEED (LF) character not preceded by a U+000D CARRIAGE RETURN (CR)
    # character, and a single U+000D CARRIAGE RETURN (CR) character not followed by a U+000A
    # LINE FEED (LF) character". Exactly those three become LF here (never str.splitlines(),
    # which also breaks on U+2028, U+0085, \v, \f ...); every LF then starts a new data line.
    if "\r" in data:
        data = data.replace("\r\n", "\n").replace("\r", "\n")
    # Each line of data is its own field: replacing every LF with "\ndata: " writes them in one
    # C-level pass, and keeps a trailing empty line ("x\n" -> "data: x\ndata: "). Most data is
    # one line, and looking for an LF costs a fraction of a replace() that finds none.
    lines = data.replace("\n", "\ndata: ") if "\n" in data else data
    try:
        return f"data: {lines}\n\n".encode()
    except UnicodeEncodeError:
        _refuse_unencodable({"data": data})


def text_data(value: object) -> str:
    """`DataText` for an event, whose data must be text: a `str` subclass (a `StrEnum` member,
    say) is written as its text, and anything else is a `TypeError`."""
    return _str_field("data", value)


def event_bytes(  # noqa: PLR0917 (an event passes its fields by position, a mapping by name)
    data_text: DataText,
    /,
    data: object = None,
    event: object = None,
    id: object = None,
    retry: object = None,
    comment: object = None,
) -> bytes:
    """Validate the fields of one event and return its bytes, LF-terminated.

    Fields are written in the order comment, id, event, data, retry (sse-starlette's order, so
    that its users' snapshot tests keep passing). Raises `InvalidEventError` for a value the
    format cannot carry and `TypeError` for a value of the wrong type; nothing is returned
    unless every field is valid.

    `data_text` is called for `data` that is not a `str`: `text_data` for an event, the encoder's
    JSON serializer for a mapping of fields. It comes first and only by position, and every
    field defaults to None, so that a mapping's fields can be passed as keyword arguments and
    no key can take its place.
    """
    # Each present field becomes its line(s); the pieces are joined by one f-string at the end,
    # which allocates once instead of once per field.
    if comment is None:
        comment_lines = ""
    else:
        if type(comment) is not str:
            comment = _str_field("comment", comment)
        if "\r" in comment:
            comment = comment.replace("\r\n", "\n").replace("\r", "\n")
        # Comments may span lines, like data: each line is its own comment line.
        lines = comment.replace("\n", "\n: ") if "\n" in comment else comment
        comment_lines = f": {lines}\n"
    if id is None:
        id_line = ""
    else:
        if type(id) is not str:
            id = _str_field("id", id)
        # WHATWG: "If the field value does not contain U+0000 NULL, then set the last event ID
        # buffer to the field value. Otherwise, ignore the field." A client would drop an id
        # with NUL, and a line break would end the field early: refuse both, never strip.
        # isprintable() is False for every control character, so one C-level pass clears the
        # common id; only an id that fails it is searched for the three that matter.
        if not id.isprintable() and ("\n" in id or "\r" in id or "\0" in id):
            _refuse_id(id)
        id_line = f"id: {id}\n"
    if event is None:
        event_line = ""
    else:
        if type(event) is not str:
            event = _str_field("event", event)
        if not event.isprintable() and ("\n" in event or "\r" in event):
            raise InvalidEventError("event", "must not contain a line break (CR or LF)")
        event_line = f"event: {event}\n"
    if data is None:
        data_lines = ""
    else:
        if type(data) is not str:
            data = data_text(data)
        if "\r" in data:
            data = data.replace("\r\n", "\n").replace("\r", "\n")
        # As in text_event_bytes; most data is one line.
        lines = data.replace("\n", "\ndata: ") if "\n" in data else data
        data_lines = f"data: {lines}\n"
    if retry is None:
        retry_line = ""
    else:
        if type(retry) is not int:
            retry = _int_retry(retry)
        if retry < 0:
            raise InvalidEventError("retry", f"must be >= 0 milliseconds, got {retry}")
        retry_line = f"retry: {retry}\n"
    try:
        return f"{comment_lines}{id_line}{event_line}{data_lines}{retry_line}\n".encode()
    except UnicodeEncodeError:
        _refuse_unencodable({"comment": comment, "id": id, "event": event, "data": data})


def _str_field(field: str, value: object) -> str:
    if isinstance(value, str):
        return str(value)  # a str subclass (a StrEnum member, say) is written as its text
    raise TypeError(f"the {field!r} field must be a str or None, not {type(value).__name__}")


def _int_retry(value: object) -> int:
    # `bool` is an `int` subclass, but `retry=True` is a bug, never a delay.
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)  # an IntEnum member is written as its number
    raise TypeError(f"the 'retry' field must be an int or None, not {type(value).__name__}")


def _refuse_id(value: str) -> NoReturn:
    if "\0" in value:
        raise InvalidEventError("id", "must not contain NUL (clients ignore such an id)")
    raise InvalidEventError("id", "must not contain a line break (CR or LF)")


def _refuse_unencodable(fields: dict[str, object]) -> NoReturn:
    # Output is UTF-8 (SPEC invariant 7). Only a lone surrogate cannot be encoded; find the
    # field that holds it, so that the error names it.
    for field, value in fields.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidEventError(
                    field,
                    f"character {value[exc.start]!r} at index {exc.start} cannot be encoded as "
                    "UTF-8 (a lone surrogate)",
                ) from None
    raise AssertionError("unreachable: no field failed to encode")  # pragma: no cover
