"""sse-starlette's event classes, writing sse-starlette's bytes through sse_core.

Code written against sse-starlette builds `ServerSentEvent(...)` objects, sets their attributes
and calls `.encode()`; snapshot tests compare the bytes. These classes keep that surface: the
same constructor, the same CRLF default and the same field order (comment, id, event, data,
retry). They differ where sse-starlette is wrong, and each difference is deliberate:

- a CR or LF in `event` or `id`, or a NUL in `id`, raises `InvalidEventError` (a `ValueError`)
  instead of being stripped without a word;
- data that is neither text nor a number is written as JSON, not as its Python `repr`;
- every value is checked when the event is built, not when it is first sent.

They must also cost no more than sse-starlette's own, since code that changed only its import
builds one per event. So the event is validated by writing its bytes with
`sse_core.encode_event` once, when it is built, and `encode()` and a response reuse those bytes
(through the `__sse_wire__` hook of sse_core's encoder) until a field is assigned. Each field is
a property whose setter marks the bytes stale; the constructor stores the values behind the
properties itself, so building an event runs no setter (a `__setattr__` hook would run Python
code on every attribute write, the constructor's included).
"""

from __future__ import annotations

__all__ = ["JSONServerSentEvent", "ServerSentEvent"]

from operator import attrgetter
from typing import Any, ClassVar, Final

from sse_core import LineTerminator, encode_event, to_json_text
from sse_core import ServerSentEvent as CoreEvent

_SEPARATORS: Final[dict[str, LineTerminator]] = {"\r\n": "\r\n", "\r": "\r", "\n": "\n"}
_SEPARATOR_BYTES: Final = {sep: sep.encode("ascii") for sep in _SEPARATORS}


def _field(name: str, doc: str) -> Any:
    """A field: read as fast as a plain attribute (a C getter), and an assignment (or `del`)
    makes the event's bytes stale, even when the new value is the same object (a dict changed
    in place, say)."""
    stored = "_" + name

    def assign(self: ServerSentEvent, value: Any) -> None:
        setattr(self, stored, value)
        self._wire = None

    def delete(self: ServerSentEvent) -> None:
        delattr(self, stored)
        self._wire = None

    return property(attrgetter(stored), assign, delete, doc)


def check_separator(sep: object) -> LineTerminator:
    """`sep` as a line terminator, or ValueError naming it (sse-starlette's `sep` check)."""
    line_terminator = _SEPARATORS.get(sep) if isinstance(sep, str) else None
    if line_terminator is None:
        raise ValueError(f"sep must be one of '\\r\\n', '\\r' or '\\n', got {sep!r}")
    return line_terminator


class ServerSentEvent:
    """An event, as sse-starlette's `ServerSentEvent` describes it; sent by `EventSourceResponse`.

    `sep` is the line separator `encode()` writes (CRLF by default, as in sse-starlette). When
    the event is sent by a response, the response's own `sep` is used instead, so a stream never
    mixes separators.

    The fields stay assignable, as in sse-starlette. An invalid value is refused with
    `InvalidEventError` (or `TypeError`) where the event is built, and an invalid value assigned
    later when the event is next encoded or sent. Data is read when the event is built or a
    field assigned: a dict changed in place afterwards is sent as it was until a field is
    assigned again (as sse-starlette's `JSONServerSentEvent` does).

    >>> ServerSentEvent("hello", event="greeting", id="1").encode()
    b'id: 1\\r\\nevent: greeting\\r\\ndata: hello\\r\\n\\r\\n'
    """

    DEFAULT_SEPARATOR: ClassVar[str] = "\r\n"
    # Whether text data is written as JSON too, a quoted string (JSONServerSentEvent's rule).
    _TEXT_AS_JSON: ClassVar[bool] = False

    data: Any = _field("data", "The data: text, a number, or anything JSON can write.")
    event: str | None = _field("event", "The event type, or None for the default, message.")
    id: str | None = _field("id", "The event id, or None.")
    retry: int | None = _field("retry", "The reconnection delay in milliseconds, or None.")
    comment: str | None = _field("comment", "The comment, or None.")
    # The event's bytes with LF line ends, or None once a field was assigned (or when a
    # subclass's __init__ did not call this one): written, and validated, when next needed.
    _wire: bytes | None = None
    # The separator encode() writes; an instance holds its own only when it is not CRLF.
    _sep: LineTerminator = "\r\n"

    def __init__(
        self,
        data: Any = None,
        *,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
        sep: str | None = None,
    ) -> None:
        # Behind the properties: the bytes written below are not stale.
        self._data = data
        self._event = event
        self._id = id
        self._retry = retry
        self._comment = comment
        if sep is not None or self.DEFAULT_SEPARATOR != "\r\n":
            self._sep = check_separator(self.DEFAULT_SEPARATOR if sep is None else sep)
        # Validate now, so that a bad value is reported where the event was built.
        self._wire = self._write(data, event, id, retry, comment)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("data", "event", "id", "retry", "comment")
            if getattr(self, name) is not None
        )
        return f"{type(self).__name__}({fields})"

    @property
    def sep(self) -> str:
        """The line separator `encode()` writes."""
        return self._sep

    def _data_text(self, data: Any) -> str | None:
        """The text `data` is written as (None: no data line).

        sse-starlette writes str(data). For text and numbers that is also what JSON would
        write, so those stay byte-identical; for anything else str() is a Python repr that no
        client can read (a dict's single quotes, True instead of true), so it becomes JSON.
        """
        if data is None or isinstance(data, str):
            return data
        if type(data) is int or type(data) is float:
            return str(data)  # as sse-starlette writes them (nan and inf included)
        return to_json_text(data)

    def _write(self, data: Any, event: Any, id: Any, retry: Any, comment: Any) -> bytes:
        """These field values' bytes, written (and so validated) by sse_core, LF line ends."""
        if type(data) is not str or self._TEXT_AS_JSON:  # text, the common data, is written as is
            data = self._data_text(data)
        # By position: the fastest call (benchmarks/encoding.py, drop-in rows).
        return encode_event(data, event, id, retry, comment)

    def __sse_wire__(self) -> bytes:
        """The event's bytes with LF line ends, for sse_core's encoder (a response sends them
        with its own separator); written again, and validated, if a field was assigned since.
        """
        wire = self._wire
        if wire is None:
            wire = self._wire = self._write(
                self.data, self.event, self.id, self.retry, self.comment
            )
        return wire

    def to_server_sent_event(self) -> CoreEvent:
        """The same event as an immutable `sse_core.ServerSentEvent` (validated)."""
        self.__sse_wire__()  # refuses an invalid field, as encode() would
        return CoreEvent(
            self._data_text(self.data),
            event=self.event,
            id=self.id,
            retry=self.retry,
            comment=self.comment,
        )

    def encode(self) -> bytes:
        """The event's bytes, each line ended by `sep`, the blank line included."""
        wire = self.__sse_wire__()
        sep = self._sep
        # Every LF in sse_core's bytes ends a line (line breaks inside values became lines).
        return wire if sep == "\n" else wire.replace(b"\n", _SEPARATOR_BYTES[sep])


class JSONServerSentEvent(ServerSentEvent):
    """An event whose data is written as compact JSON (``None`` still means no data line).

    >>> JSONServerSentEvent({"n": 1, "text": "é"}).encode()
    b'data: {"n":1,"text":"\\xc3\\xa9"}\\r\\n\\r\\n'
    """

    _TEXT_AS_JSON: ClassVar[bool] = True

    def _data_text(self, data: Any) -> str | None:
        return None if data is None else to_json_text(data)
