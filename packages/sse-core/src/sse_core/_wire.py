"""The one place where event fields become event-stream bytes.

Every encoding path (`ServerSentEvent`, mappings, plain text) ends here, so the wire-format rules
are written once. `encode_event` validates while it writes, because validation and writing look
at the same characters: one pass instead of two is what keeps encoding fast. It is public, and
it is the implementation itself rather than a wrapper around it: the drop-in event classes of
sse_starlette_binding call it once per event, where another Python call would show
(benchmarks/encoding.py, drop-in rows).
"""

from __future__ import annotations

__all__ = ["DataText", "EventWriter", "encode_event", "event_writer", "text_event_bytes"]

from collections.abc import Callable
from typing import NoReturn, Protocol, TypeAlias

from ._errors import InvalidEventError

DataText: TypeAlias = Callable[[object], str]
"""Turns `data` that is not a `str` into the text to write, or raises (see `event_writer`)."""


class EventWriter(Protocol):
    """The type of `encode_event`: event fields in, the event's bytes out (a function)."""

    __name__: str
    __qualname__: str

    def __call__(
        self,
        data: str | None = None,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> bytes: ...


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


def event_writer(data_text: DataText) -> Callable[..., bytes]:
    """An `encode_event` whose `data`, when it is not a `str`, is written as `data_text(data)`.

    `encode_event` itself is the one made with `_text_data` (data must be text); the encoder
    makes one with its JSON serializer for mappings of fields, whose keys it passes as keyword
    arguments: Python matches them to the parameters (absent ones are None) and refuses any
    other key. The fields are the function's own parameters, not a `data_text` argument beside
    them, so that no key can stand for one and `encode_event` takes only the fields.
    """

    def encode_event(
        data: object = None,
        event: object = None,
        id: object = None,
        retry: object = None,
        comment: object = None,
    ) -> bytes:
        """Validate the fields of one event and return its bytes, with LF line ends.

        This is what `ServerSentEvent(data, event=..., id=..., retry=..., comment=...)` does,
        without building the event: the bytes are that event's `wire`, and a value it refuses
        is refused here in the same way. Use it where an object would be thrown away at once,
        such as an event class of your own that keeps its bytes (see `__sse_wire__` in
        `EventEncoder.encode`).

        The fields may be given by position, in this order (the order of
        `ServerSentEvent.__match_args__`), or by name. `data` is text or None, as for
        `ServerSentEvent`: for JSON data, pass `to_json_text(value)`. Fields are written in the
        order comment, id, event, data, retry. Raises `InvalidEventError` (a `ValueError`
        naming the field) for a value the format cannot carry and `TypeError` for a value of
        the wrong type; nothing is returned unless every field is valid.

        Every LF in the result ends a line (line breaks inside values become separate lines),
        so another line terminator is one ``replace(b"\\n", ...)`` away.

        >>> from sse_core import encode_event
        >>> encode_event("hello\\nworld", event="greeting", id="1")
        b'id: 1\\nevent: greeting\\ndata: hello\\ndata: world\\n\\n'
        >>> encode_event(id="2", retry=3000)
        b'id: 2\\nretry: 3000\\n\\n'
        """
        # Each present field becomes its line(s); the pieces are joined by one f-string at the
        # end, which allocates once instead of once per field. Data comes first, so that the
        # commonest event, data alone, is written as soon as its lines are known.
        if data is None:
            data_lines = ""
        else:
            if type(data) is not str:
                data = data_text(data)
            # Line breaks in data as in text_event_bytes; most data is one line.
            if "\r" in data:
                data = data.replace("\r\n", "\n").replace("\r", "\n")
            lines = data.replace("\n", "\ndata: ") if "\n" in data else data
            if event is None and id is None and retry is None and comment is None:
                try:
                    return f"data: {lines}\n\n".encode()
                except UnicodeEncodeError:
                    _refuse_unencodable({"data": data})
            data_lines = f"data: {lines}\n"
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
            # WHATWG: "If the field value does not contain U+0000 NULL, then set the last event
            # ID buffer to the field value. Otherwise, ignore the field." A client would drop an
            # id with NUL, and a line break would end the field early: refuse both, never
            # strip. isprintable() is False for every control character, so one C-level pass
            # clears the common id; only an id that fails it is searched for the three that
            # matter.
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

    # Every writer is an `encode_event` to a reader of tracebacks and of help().
    encode_event.__qualname__ = encode_event.__name__
    return encode_event


def _text_data(value: object) -> str:
    # The `DataText` of `encode_event` (and so of `ServerSentEvent`): data must be text; a str
    # subclass (a `StrEnum` member, say) is written as its text.
    return _str_field("data", value)


encode_event: EventWriter = event_writer(_text_data)
"""Validate the fields of one event and return its bytes, with LF line ends."""


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
