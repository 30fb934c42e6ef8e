"""Encoding events, and the items people yield, into the bytes of an event stream."""

from __future__ import annotations

__all__ = [
    "EventEncoder",
    "LineTerminator",
    "encode",
    "encode_comment",
    "encode_many",
]

from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache, partial
from typing import Any, Final, Literal

from ._errors import InvalidEventError
from ._event import ServerSentEvent
from ._json import JSONDumps, to_json_text
from ._wire import event_writer, text_event_bytes

LineTerminator = Literal["\n", "\r\n", "\r"]
"""What ends each line: LF (the default), CRLF, or a bare CR (valid, but avoid it: some
non-browser clients mishandle it)."""

_LINE_TERMINATORS: Final = ("\n", "\r\n", "\r")
_EVENT_FIELDS: Final = frozenset(("data", "event", "id", "retry", "comment"))
# Tuples, not `bytes | bytearray | memoryview`: an isinstance() with a union written out builds
# the union anew on every call, which costs more than the check.
_ENCODED: Final = (bytes, bytearray, memoryview)
_MAPPINGS: Final = (dict, Mapping)


def _json_data(value: object, json_dumps: JSONDumps | None = None) -> str:
    # A mapping's data (the `DataText` of its event writer): text is written as it is, anything
    # else as JSON.
    if isinstance(value, str):
        return str(value)
    return to_json_text(value, json_dumps=json_dumps)


# `encode_event` for a mapping of fields with the default serializer: its data may be JSON.
_write_default_mapping = event_writer(_json_data)


def _mapping_bytes(fields: Mapping[str, Any], write: Callable[..., bytes]) -> bytes:
    try:
        # The keys become the writer's keyword arguments: Python matches them to its parameters
        # (absent ones are None) faster than a key check and five .get() calls, and refuses any
        # other key, so the common case pays for no check of its own.
        return write(**fields)
    except TypeError:
        _refuse_unknown_fields(fields)
        raise


def _refuse_unknown_fields(fields: Mapping[str, Any]) -> None:
    # write(**fields) raised TypeError: either for a key that is not a field, or for a
    # field of the wrong type. The first is said here, in words about mappings rather than
    # about a function's arguments; for the second, the caller re-raises the error as it is.
    if not _EVENT_FIELDS.issuperset(fields):
        unknown = sorted(map(str, fields.keys() - _EVENT_FIELDS))
        raise TypeError(
            f"unknown event field(s) {unknown}: an event mapping may only hold 'data', "
            "'event', 'id', 'retry' and 'comment'"
        ) from None


def _item_bytes(item: Any, encoder: EventEncoder) -> bytes:
    # The LF-terminated bytes of any item but a plain str, a ServerSentEvent or a dict, which
    # the caller handles first because they are the common cases, and bytes, which it returns
    # as they are.
    # An object that keeps the bytes sse_core wrote for it hands them over (see
    # `EventEncoder.encode`). Looked up on the type, as Python looks up its own hooks: that is
    # one cached lookup, where an instance's __getattr__ (a pydantic model's) may run code.
    wire_of = getattr(type(item), "__sse_wire__", None)
    if wire_of is not None:
        wire = wire_of(item)
        if type(wire) is not bytes:
            raise TypeError(
                f"{type(item).__name__}.__sse_wire__() returned {type(wire).__name__}, not bytes"
            )
        return wire
    if isinstance(item, ServerSentEvent):
        return item._fields[5]
    if isinstance(item, str):
        return text_event_bytes(str(item))
    # dict first: it matches at once, where the Mapping ABC check is many times slower
    # (benchmarks/encoding.py, dict).
    if isinstance(item, _MAPPINGS):
        return _mapping_bytes(item, encoder._write_mapping)
    # Duck-typed rather than isinstance(item, SupportsServerSentEvent): a runtime protocol check
    # costs microseconds, and every JSON payload below would pay it.
    to_event = getattr(item, "to_server_sent_event", None)
    if to_event is not None:
        event = to_event()
        if not isinstance(event, ServerSentEvent):
            raise TypeError(
                f"{type(item).__name__}.to_server_sent_event() returned "
                f"{type(event).__name__}, not a ServerSentEvent"
            )
        return event._fields[5]
    if item is None:
        raise TypeError(
            "cannot encode None as an event: yield ServerSentEvent() for an empty event, "
            "or a comment to keep the connection alive"
        )
    return text_event_bytes(to_json_text(item, json_dumps=encoder.json_dumps))


class EventEncoder:
    """Encodes items into event-stream bytes with one fixed configuration.

    Hold one per stream (or per application) and call `encode` for each item: the configuration
    is checked once, here, rather than on every event.

    `line_terminator` ends every line (LF by default). `json_dumps` serializes data that is not
    text (see `ServerSentEvent.from_json`); pydantic models always use pydantic's serializer.

    >>> EventEncoder(line_terminator="\\r\\n").encode("hi")
    b'data: hi\\r\\n\\r\\n'
    """

    __slots__ = ("_json_dumps", "_line_terminator_bytes", "_write_mapping", "line_terminator")

    line_terminator: LineTerminator

    def __init__(
        self, *, line_terminator: LineTerminator = "\n", json_dumps: JSONDumps | None = None
    ) -> None:
        if line_terminator not in _LINE_TERMINATORS:
            raise ValueError(
                f"line_terminator must be one of '\\n', '\\r\\n' or '\\r', got {line_terminator!r}"
            )
        self.line_terminator = line_terminator
        self._line_terminator_bytes = line_terminator.encode("ascii")
        self.json_dumps = json_dumps  # also chooses the mappings' writer

    @property
    def json_dumps(self) -> JSONDumps | None:
        """The JSON serializer for data that is not text (None: the standard library's)."""
        return self._json_dumps

    @json_dumps.setter
    def json_dumps(self, json_dumps: JSONDumps | None) -> None:
        self._json_dumps = json_dumps
        # The mappings' writer, whose data (when not text) is this serializer's JSON. With the
        # default serializer every encoder shares one: each stream holds an encoder, and an
        # idle stream's memory is the sum of what it holds (benchmarks/streaming.py, idle).
        if json_dumps is None:
            self._write_mapping = _write_default_mapping
        else:
            self._write_mapping = event_writer(partial(_json_data, json_dumps=json_dumps))

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
        - an object whose type has a ``__sse_wire__()`` method: it returns the event's bytes as
          `encode_event` wrote them, LF line ends (what `ServerSentEvent.wire` is for an
          event). This is for an event object that validates its fields with `encode_event`
          and keeps the bytes, such as sse_starlette_binding's mutable, sse-starlette-compatible
          events: it is sent without building an immutable `ServerSentEvent` each time;
        - a mapping of event fields (``data``, ``event``, ``id``, ``retry``, ``comment``), whose
          ``data`` is written as-is if it is text and as JSON otherwise;
        - `bytes`, `bytearray` or `memoryview`: already encoded, returned unchanged;
        - a pydantic model or any other JSON-able value: the data, as compact JSON.

        An invalid field raises `InvalidEventError` (a `ValueError`) before anything is
        returned; an item of a type it cannot encode (or `None`) raises `TypeError`.
        """
        item_type = type(item)
        if item_type is str:
            wire = text_event_bytes(item)
        elif item_type is ServerSentEvent:
            wire = item._fields[5]
        elif item_type is dict:
            wire = _mapping_bytes(item, self._write_mapping)
        elif isinstance(item, _ENCODED):
            return bytes(item)  # already encoded: its line ends are the caller's business
        else:
            wire = _item_bytes(item, self)
        if self.line_terminator == "\n":
            return wire
        # Every LF in the LF-terminated form is a line end (line breaks inside values were
        # turned into separate lines), so swapping them all is exact.
        return wire.replace(b"\n", self._line_terminator_bytes)

    def encode_many(self, items: Iterable[Any]) -> bytes:
        """Encode several items into one `bytes`, as `encode` would one by one."""
        return b"".join([self.encode(item) for item in items])

    def encode_comment(self, text: str = "") -> bytes:
        """Encode a comment: clients ignore it, proxies see traffic. Line breaks are allowed.

        >>> EventEncoder().encode_comment("ping")
        b': ping\\n\\n'
        """
        return self.encode(ServerSentEvent(comment=text))

    def encode_data(self, data: bytes) -> bytes:
        """Encode an event whose only field is `data`, given as UTF-8 bytes.

        For data a serializer already wrote as bytes (the JSON of pydantic-core, orjson or
        msgspec): it is written as it is, without a round trip through `str`. The event is the
        one ``encode(data.decode())`` writes: CRLF, CR and LF inside split it into data lines,
        and an empty `data` is one empty data line. Bytes that are not UTF-8 raise
        `InvalidEventError` naming ``data``; anything but `bytes`, `bytearray` or `memoryview`
        raises `TypeError`. (`encode` takes bytes to be whole events; this takes them as data.)

        >>> EventEncoder().encode_data(b'{"n":1}')
        b'data: {"n":1}\\n\\n'
        >>> EventEncoder(line_terminator="\\r\\n").encode_data(b"a\\nb")
        b'data: a\\r\\ndata: b\\r\\n\\r\\n'
        """
        # In UTF-8 the bytes of CR and LF never occur inside another character's encoding, so
        # a byte search finds exactly the line breaks. (Searched for as ints: `10 in data` is a
        # plain memchr, cheaper than `b"\n" in data`.) One line of ASCII, the common case
        # (compact JSON), passes a single condition.
        if not (type(data) is bytes and data.isascii() and 10 not in data and 13 not in data):
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(
                    f"data must be bytes, bytearray or memoryview, not {type(data).__name__}"
                )
            data = bytes(data)
            text = _utf8_data(data)  # refuses bytes that are not UTF-8: output is UTF-8
            if 10 in data or 13 in data:
                return self.encode(text)  # split into data lines, as text is
        if self.line_terminator == "\n":
            return b"data: " + data + b"\n\n"
        end = self._line_terminator_bytes
        return b"data: " + data + end + end


def _utf8_data(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEventError(
            "data", f"byte {data[exc.start]:#04x} at index {exc.start} is not valid UTF-8"
        ) from None


_DEFAULT_ENCODER: Final = EventEncoder()


@lru_cache(maxsize=16)
def _cached_encoder(line_terminator: LineTerminator, json_dumps: JSONDumps | None) -> EventEncoder:
    # The functions below, called with a configuration, use one encoder per configuration
    # instead of building one per call, which would cost as much again as encoding a small
    # event (benchmarks/encoding.py, object-to-JSON with orjson). A few are kept, not all: a
    # json_dumps made anew for each call must not fill memory.
    return EventEncoder(line_terminator=line_terminator, json_dumps=json_dumps)


def _encoder_for(line_terminator: LineTerminator, json_dumps: JSONDumps | None) -> EventEncoder:
    try:
        return _cached_encoder(line_terminator, json_dumps)
    except TypeError:  # an unhashable json_dumps (a callable object that defines __eq__)
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
    if line_terminator == "\n" and json_dumps is None:
        # The common call, answered without building an encoder or a second call frame.
        item_type = type(item)
        if item_type is str:
            return text_event_bytes(item)
        if item_type is ServerSentEvent:
            wire: bytes = item._fields[5]
            return wire
        if item_type is dict:
            try:
                return _write_default_mapping(**item)
            except TypeError:
                _refuse_unknown_fields(item)
                raise
        return _DEFAULT_ENCODER.encode(item)
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
