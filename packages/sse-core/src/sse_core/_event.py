"""`ServerSentEvent`: one event as an immutable, validated value."""

from __future__ import annotations

__all__ = ["ServerSentEvent", "SupportsServerSentEvent"]

from typing import Any, Protocol, runtime_checkable

from ._json import JSONDumps, to_json_text
from ._wire import encode_event

_set_slot = object.__setattr__


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

    # All state lives in one tuple, set once: a single slot write is what makes construction
    # cheap (five frozen-dataclass writes cost more than validating and encoding the event).
    # The last item is the event's bytes (LF line ends), written while the fields were
    # validated: one pass over the text does both, and an event sent to many clients is
    # encoded once.
    __slots__ = ("_fields",)
    __match_args__ = ("data", "event", "id", "retry", "comment")

    _fields: tuple[str | None, str | None, str | None, int | None, str | None, bytes]

    def __init__(
        self,
        data: str | None = None,
        *,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        wire = encode_event(data, event, id, retry, comment)
        _set_slot(self, "_fields", (data, event, id, retry, comment, wire))

    @property
    def data(self) -> str | None:
        """The data, or None for an event without data."""
        return self._fields[0]

    @property
    def event(self) -> str | None:
        """The event type, or None for the default type, "message"."""
        return self._fields[1]

    @property
    def id(self) -> str | None:
        """The event id, or None to leave the client's last event id as it is."""
        return self._fields[2]

    @property
    def retry(self) -> int | None:
        """The reconnection delay in milliseconds, or None."""
        return self._fields[3]

    @property
    def comment(self) -> str | None:
        """The comment, or None."""
        return self._fields[4]

    @property
    def wire(self) -> bytes:
        """The encoded event, LF line ends: what `encode` returns for it by default."""
        return self._fields[5]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ServerSentEvent is immutable; use .replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("ServerSentEvent is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields[:5] == other._fields[:5]

    def __hash__(self) -> int:
        return hash(self._fields[:5])

    def __repr__(self) -> str:
        data, event, id, retry, comment, _ = self._fields
        return (
            f"{type(self).__name__}(data={data!r}, event={event!r}, id={id!r}, "
            f"retry={retry!r}, comment={comment!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self._fields[:5]))

    def replace(self, **changes: Any) -> ServerSentEvent:
        """Return a copy with some fields changed (and validated again).

        >>> ServerSentEvent("x", id="1").replace(id="2")
        ServerSentEvent(data='x', event=None, id='2', retry=None, comment=None)
        """
        fields: dict[str, Any] = dict(zip(self.__match_args__, self._fields, strict=False))
        unknown = changes.keys() - fields.keys()
        if unknown:
            raise TypeError(f"ServerSentEvent has no field(s) {sorted(unknown)}")
        fields.update(changes)
        data = fields.pop("data")
        return type(self)(data, **fields)

    @classmethod
    def from_json(
        cls,
        value: Any,
        *,
        event: str | None = None,
        id: str | None = None,
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
            to_json_text(value, json_dumps=json_dumps),
            event=event,
            id=id,
            retry=retry,
            comment=comment,
        )


@runtime_checkable
class SupportsServerSentEvent(Protocol):
    """An object that knows which `ServerSentEvent` it stands for (typed event models do)."""

    def to_server_sent_event(self) -> ServerSentEvent:
        """Return the event this object stands for."""
        ...


def _rebuild(cls: type[ServerSentEvent], fields: tuple[Any, ...]) -> ServerSentEvent:
    data, event, id, retry, comment = fields
    return cls(data, event=event, id=id, retry=retry, comment=comment)
