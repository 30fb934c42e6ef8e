"""sse-starlette's event classes, writing sse-starlette's bytes through sse_core.

Code written against sse-starlette builds `ServerSentEvent(...)` objects, sets their attributes
and calls `.encode()`; snapshot tests compare the bytes. These classes keep that surface: the
same constructor, the same CRLF default and the same field order (comment, id, event, data,
retry). They differ where sse-starlette is wrong, and each difference is deliberate:

- a CR or LF in `event` or `id`, or a NUL in `id`, raises `InvalidEventError` (a `ValueError`)
  instead of being stripped without a word;
- data that is neither text nor a number is written as JSON, not as its Python `repr`;
- every value is checked when the event is built, not when it is first sent.
"""

from __future__ import annotations

__all__ = ["JSONServerSentEvent", "ServerSentEvent"]

from typing import Any, Final

from sse_core import EventEncoder, LineTerminator
from sse_core import ServerSentEvent as CoreEvent

_ENCODERS: Final[dict[str, EventEncoder]] = {
    sep: EventEncoder(line_terminator=sep) for sep in ("\r\n", "\r", "\n")
}
_FIELDS: Final = frozenset(("data", "event", "id", "retry", "comment"))


def check_separator(sep: object) -> LineTerminator:
    """`sep` as a line terminator, or ValueError naming it (sse-starlette's `sep` check)."""
    encoder = _ENCODERS.get(sep) if isinstance(sep, str) else None
    if encoder is None:
        raise ValueError(f"sep must be one of '\\r\\n', '\\r' or '\\n', got {sep!r}")
    return encoder.line_terminator


class ServerSentEvent:
    """An event, as sse-starlette's `ServerSentEvent` describes it; sent by `EventSourceResponse`.

    `sep` is the line separator `encode()` writes (CRLF by default, as in sse-starlette). When
    the event is sent by a response, the response's own `sep` is used instead, so a stream never
    mixes separators.

    >>> ServerSentEvent("hello", event="greeting", id="1").encode()
    b'id: 1\\r\\nevent: greeting\\r\\ndata: hello\\r\\n\\r\\n'
    """

    DEFAULT_SEPARATOR: Final = "\r\n"

    data: Any
    event: str | None
    id: str | None
    retry: int | None
    comment: str | None

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
        self._sep = check_separator(self.DEFAULT_SEPARATOR if sep is None else sep)
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment
        # Validate now, so that a bad value is reported where the event was built.
        self.to_server_sent_event()

    def __setattr__(self, name: str, value: Any) -> None:
        # The fields stay assignable, as in sse-starlette; the cached core event goes stale.
        object.__setattr__(self, name, value)
        if name in _FIELDS:
            object.__setattr__(self, "_core_event", None)

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

    def _data_is_json(self) -> bool:
        # sse-starlette writes str(data). For text and numbers that is also what JSON would
        # write, so those stay byte-identical; for anything else str() is a Python repr that no
        # client can read (a dict's single quotes, True instead of true), so it becomes JSON.
        data = self.data
        return not (data is None or isinstance(data, str) or type(data) in (int, float))

    def to_server_sent_event(self) -> CoreEvent:
        """The same event as an immutable `sse_core.ServerSentEvent` (validated, cached)."""
        core_event: CoreEvent | None = self.__dict__.get("_core_event")
        if core_event is None:
            event, id, retry, comment = self.event, self.id, self.retry, self.comment
            if self._data_is_json():
                core_event = CoreEvent.from_json(
                    self.data, event=event, id=id, retry=retry, comment=comment
                )
            else:
                data = None if self.data is None else str(self.data)
                core_event = CoreEvent(data, event=event, id=id, retry=retry, comment=comment)
            object.__setattr__(self, "_core_event", core_event)
        return core_event

    def encode(self) -> bytes:
        """The event's bytes, each line ended by `sep`, the blank line included."""
        return _ENCODERS[self._sep].encode(self.to_server_sent_event())


class JSONServerSentEvent(ServerSentEvent):
    """An event whose data is written as compact JSON (``None`` still means no data line).

    >>> JSONServerSentEvent({"n": 1, "text": "é"}).encode()
    b'data: {"n":1,"text":"\\xc3\\xa9"}\\r\\n\\r\\n'
    """

    def _data_is_json(self) -> bool:
        return self.data is not None
