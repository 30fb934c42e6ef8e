"""Encoding events, and the items people yield, into the bytes of an event stream."""

from __future__ import annotations

__all__ = [
    "EventEncoder",
    "LineTerminator",
    "encode",
    "encode_comment",
    "encode_many",
]

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from ._event import ServerSentEvent, SupportsServerSentEvent, _check_str, _check_writable
from ._json import JSONDumps, to_json_text

LineTerminator = Literal["\n", "\r\n", "\r"]
"""What ends each line: LF (the default), CRLF, or a bare CR (valid, but avoid it: some
non-browser clients mishandle it)."""

_LINE_TERMINATORS: Final = ("\n", "\r\n", "\r")
_EVENT_FIELDS: Final = frozenset(("data", "event", "id", "retry", "comment"))


def _normalize_line_breaks(text: str) -> str:
    # WHATWG: lines end with "a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a
    # single U+000A LINE FEED (LF) character not preceded by a U+000D CARRIAGE RETURN (CR)
    # character, and a single U+000D CARRIAGE RETURN (CR) character not followed by a U+000A
    # LINE FEED (LF) character". Exactly those three, never str.splitlines(), which also breaks
    # on U+2028, U+0085, \v, \f and others that the format carries as ordinary characters.
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


class EventEncoder:
    """Encodes items into event-stream bytes with one fixed configuration.

    Hold one per stream (or per application) and call `encode` for each item: the configuration
    is checked once, here, rather than on every event.

    `line_terminator` ends every line (LF by default). `json_dumps` serializes data that is not
    text (see `ServerSentEvent.from_json`); pydantic models always use pydantic's serializer.

    >>> EventEncoder(line_terminator="\\r\\n").encode("hi")
    b'data: hi\\r\\n\\r\\n'
    """

    __slots__ = ("_comment_joiner", "_data_joiner", "_end", "json_dumps", "line_terminator")

    line_terminator: LineTerminator
    json_dumps: JSONDumps | None

    def __init__(
        self, *, line_terminator: LineTerminator = "\n", json_dumps: JSONDumps | None = None
    ) -> None:
        if line_terminator not in _LINE_TERMINATORS:
            raise ValueError(
                f"line_terminator must be one of '\\n', '\\r\\n' or '\\r', got {line_terminator!r}"
            )
        self.line_terminator = line_terminator
        self.json_dumps = json_dumps
        # Each field's value is split into lines by replacing every LF with "<eol><name>: ",
        # which is one C-level pass instead of a split, a loop and a join.
        self._data_joiner = line_terminator + "data: "
        self._comment_joiner = line_terminator + ": "
        self._end = line_terminator + line_terminator

    def __repr__(self) -> str:
        return (
            f"EventEncoder(line_terminator={self.line_terminator!r}, "
            f"json_dumps={self.json_dumps!r})"
        )

    def encode(self, item: Any) -> bytes:
        """Encode one item as one complete event (or comment), blank line included.

        Accepts:

        - `str`: the event's data;
        - `ServerSentEvent`, or an object with `to_server_sent_event()` (typed event models);
        - a mapping of event fields (``data``, ``event``, ``id``, ``retry``, ``comment``), whose
          ``data`` is written as-is if it is text and as JSON otherwise;
        - `bytes`, `bytearray` or `memoryview`: already encoded, returned unchanged;
        - a pydantic model or any other JSON-able value: the data, as compact JSON.

        An invalid field raises `InvalidEventError` (a `ValueError`) before anything is
        returned; an item of a type it cannot encode (or `None`) raises `TypeError`.
        """
        item_type = type(item)
        if item_type is str:
            return self._encode_text(item)
        if item_type is ServerSentEvent:
            return self._encode_event(item)
        if isinstance(item, ServerSentEvent):
            return self._encode_event(item)
        if isinstance(item, bytes | bytearray | memoryview):
            return bytes(item)
        if isinstance(item, str):
            return self._encode_text(str(item))
        if isinstance(item, Mapping):
            return self._encode_event(self.event_from_mapping(item))
        if isinstance(item, SupportsServerSentEvent):
            return self._encode_event(item.to_server_sent_event())
        if item is None:
            raise TypeError(
                "cannot encode None as an event: yield ServerSentEvent() for an empty event, "
                "or a comment to keep the connection alive"
            )
        return self._encode_text(to_json_text(item, self.json_dumps))

    def encode_many(self, items: Iterable[Any]) -> bytes:
        """Encode several items into one `bytes`, as `encode` would one by one."""
        return b"".join([self.encode(item) for item in items])

    def encode_comment(self, text: str = "") -> bytes:
        """Encode a comment: clients ignore it, proxies see traffic. Line breaks are allowed.

        >>> EventEncoder().encode_comment("ping")
        b': ping\\n\\n'
        """
        _check_writable("comment", _check_str("comment", text))
        return (": " + self._lines(text, self._comment_joiner) + self._end).encode("utf-8")

    def event_from_mapping(self, fields: Mapping[str, Any]) -> ServerSentEvent:
        """Build the `ServerSentEvent` that a mapping of event fields stands for.

        Unknown keys raise `TypeError`; ``data`` that is not text is serialized as JSON.
        """
        unknown = fields.keys() - _EVENT_FIELDS
        if unknown:
            raise TypeError(
                f"unknown event field(s) {sorted(map(str, unknown))}: an event mapping may "
                "only hold 'data', 'event', 'id', 'retry' and 'comment'"
            )
        data = fields.get("data")
        if data is not None and not isinstance(data, str):
            data = to_json_text(data, self.json_dumps)
        return ServerSentEvent(
            data,
            event=fields.get("event"),
            id=fields.get("id"),
            retry=fields.get("retry"),
            comment=fields.get("comment"),
        )

    @staticmethod
    def _lines(text: str, joiner: str) -> str:
        text = _normalize_line_breaks(text)
        if "\n" in text:
            return text.replace("\n", joiner)
        return text

    def _encode_text(self, data: str) -> bytes:
        if "\n" in data or "\r" in data:
            data = _normalize_line_breaks(data).replace("\n", self._data_joiner)
        try:
            return ("data: " + data + self._end).encode("utf-8")
        except UnicodeEncodeError:
            _check_writable("data", data)  # raises InvalidEventError, naming the character
            raise  # pragma: no cover - _check_writable raised already

    def _encode_event(self, event: ServerSentEvent) -> bytes:
        # Field order follows sse-starlette (comment, id, event, data, retry) so that streams
        # written through the compatibility surface match it byte for byte. The event was
        # validated when it was built, so encoding to UTF-8 cannot fail here.
        eol = self.line_terminator
        text = ""
        if event.comment is not None:
            text = ": " + self._lines(event.comment, self._comment_joiner) + eol
        if event.id is not None:
            text += "id: " + event.id + eol
        if event.event is not None:
            text += "event: " + event.event + eol
        if event.data is not None:
            text += "data: " + self._lines(event.data, self._data_joiner) + eol
        if event.retry is not None:
            text += "retry: " + str(event.retry) + eol
        return (text + eol).encode("utf-8")


_DEFAULT_ENCODER: Final = EventEncoder()


def _encoder_for(line_terminator: LineTerminator, json_dumps: JSONDumps | None) -> EventEncoder:
    if line_terminator == "\n" and json_dumps is None:
        return _DEFAULT_ENCODER
    return EventEncoder(line_terminator=line_terminator, json_dumps=json_dumps)


def encode(
    item: Any, *, line_terminator: LineTerminator = "\n", json_dumps: JSONDumps | None = None
) -> bytes:
    """Encode one item as one event; see `EventEncoder.encode` for what an item may be.

    >>> encode("hello")
    b'data: hello\\n\\n'
    >>> encode({"event": "tick", "data": {"n": 1}})
    b'event: tick\\ndata: {"n":1}\\n\\n'
    """
    return _encoder_for(line_terminator, json_dumps).encode(item)


def encode_many(
    items: Iterable[Any],
    *,
    line_terminator: LineTerminator = "\n",
    json_dumps: JSONDumps | None = None,
) -> bytes:
    """Encode several items into one `bytes` (one write for a whole batch of events)."""
    return _encoder_for(line_terminator, json_dumps).encode_many(items)


def encode_comment(text: str = "", *, line_terminator: LineTerminator = "\n") -> bytes:
    """Encode a comment, such as a keep-alive ping; clients ignore comments.

    >>> encode_comment("ping")
    b': ping\\n\\n'
    """
    return _encoder_for(line_terminator, None).encode_comment(text)
