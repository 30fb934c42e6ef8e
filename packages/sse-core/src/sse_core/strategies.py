"""Hypothesis strategies for Server-Sent Events (``pip install "sse-core[hypothesis]"``).

Use them to property-test your own encoder or endpoint: generate events, serve them, read them
back with `sse_core.EventParser` under every chunking, and compare with `dispatched_events`,
what a spec-compliant client receives for those events (CR and CRLF in data arrive as LF, an
event without data dispatches nothing, ids persist, retry and comments are not dispatched).

    from hypothesis import given, strategies as st
    from sse_core import EventParser, encode_many, strategies as sse_st

    @given(events=sse_st.events_lists(), data=st.data())
    def test_my_stream_round_trips(events, data):
        parser = EventParser()
        chunks = data.draw(sse_st.chunkings(encode_many(events)))
        received = [event for chunk in chunks for event in parser.feed(chunk)]
        assert received == sse_st.dispatched_events(events)
        assert (parser.last_event_id, parser.retry) == sse_st.reconnection_state(events)
"""

from __future__ import annotations

__all__ = [
    "InvalidField",
    "ReconnectionState",
    "chunkings",
    "comments",
    "dispatched_events",
    "event_data",
    "event_ids",
    "event_types",
    "events",
    "events_lists",
    "invalid_fields",
    "reconnection_state",
    "retries",
]

from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Any

import hypothesis.strategies as st

from ._event import ServerSentEvent
from ._expected import ReconnectionState, dispatched_events, reconnection_state

# Characters that have broken SSE implementations: every line break the format knows, the ones
# it does not (str.splitlines() splits on them; the format must carry them as data), spaces
# around field values, NUL, the BOM, colons, and characters outside the BMP.
_TRICKY_CHARACTERS = (
    "\r", "\n", " ", ":", "\0", "\t", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
    "\u2029", "\ufeff", "\ufffd", "é", "€", "\U0001f600", "\U0010ffff",
)  # fmt: skip

_characters = st.one_of(
    st.sampled_from(_TRICKY_CHARACTERS),
    # Any code point but a surrogate: lone surrogates cannot be written as UTF-8.
    st.characters(codec="utf-8"),
)
_line_breaks = st.sampled_from(("\n", "\r", "\r\n"))

_text = st.lists(st.one_of(_characters, _line_breaks), max_size=40).map("".join)


def _single_line(*, exclude: str = "") -> st.SearchStrategy[str]:
    banned = "\r\n" + exclude
    return st.lists(_characters.filter(lambda c: c not in banned), max_size=20).map("".join)


event_data: st.SearchStrategy[str] = _text
"""Text for the ``data`` field, line breaks of every kind included."""

comments: st.SearchStrategy[str] = _text
"""Text for a comment, which may span lines."""

event_types: st.SearchStrategy[str] = _single_line()
"""Valid ``event`` values: any text without CR or LF (leading spaces included)."""

event_ids: st.SearchStrategy[str] = _single_line(exclude="\0")
"""Valid ``id`` values: any text without CR, LF or NUL."""

retries: st.SearchStrategy[int] = st.one_of(
    st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=2**63)
)
"""Valid ``retry`` values: milliseconds, an `int >= 0`."""


@st.composite
def events(
    draw: st.DrawFn,
    *,
    data: st.SearchStrategy[str | None] | None = None,
) -> ServerSentEvent:
    """Valid `ServerSentEvent`s, every field present or absent independently.

    Pass `data` to draw the data field from a strategy of your own (such as your payloads,
    serialized); by default it is arbitrary text or None.
    """
    data_strategy = st.none() | event_data if data is None else data
    return ServerSentEvent(
        draw(data_strategy),
        event=draw(st.none() | event_types),
        id=draw(st.none() | event_ids),
        retry=draw(st.none() | retries),
        comment=draw(st.none() | comments),
    )


def events_lists(
    *, min_size: int = 0, max_size: int = 12
) -> st.SearchStrategy[list[ServerSentEvent]]:
    """Lists of valid events: a stream's worth."""
    return st.lists(events(), min_size=min_size, max_size=max_size)


@dataclass(frozen=True, slots=True)
class InvalidField:
    """One invalid value for one field: `ServerSentEvent(**{field: value})` must refuse it."""

    field: str
    value: Any

    def as_kwargs(self) -> dict[str, Any]:
        """The field as keyword arguments for `ServerSentEvent`."""
        return {self.field: self.value}


def _with_inserted(
    text: st.SearchStrategy[str], bad: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    # A valid value with one bad character (or sequence) put anywhere in it.
    return st.tuples(text, bad, st.integers(min_value=0)).map(
        lambda parts: (
            parts[0][: parts[2] % (len(parts[0]) + 1)]
            + parts[1]
            + parts[0][parts[2] % (len(parts[0]) + 1) :]
        )
    )


_lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


def invalid_fields() -> st.SearchStrategy[InvalidField]:
    """Field values `ServerSentEvent` must refuse with `InvalidEventError` naming the field.

    Line breaks in ``event`` and ``id``, NUL in ``id``, negative ``retry``, and lone
    surrogates (which cannot be written as UTF-8) in any text field.
    """
    line_break = st.sampled_from(("\n", "\r", "\r\n"))
    return st.one_of(
        _with_inserted(event_types, line_break).map(lambda v: InvalidField("event", v)),
        _with_inserted(event_ids, line_break | st.just("\0")).map(lambda v: InvalidField("id", v)),
        st.integers(max_value=-1).map(lambda v: InvalidField("retry", v)),
        *(
            _with_inserted(strategy, _lone_surrogates).map(partial(InvalidField, field))
            for field, strategy in (
                ("data", event_data),
                ("comment", comments),
                ("event", event_types),
                ("id", event_ids),
            )
        ),
    )


@st.composite
def chunkings(draw: st.DrawFn, payload: bytes, *, max_cuts: int = 32) -> list[bytes]:
    """Ways of cutting `payload` into consecutive non-empty chunks, as a network might.

    Cuts land anywhere: inside a UTF-8 sequence, between the CR and LF of a CRLF, inside a field
    name; up to `max_cuts` of them, or sometimes one after every byte. Joined back, the chunks
    are always `payload`.
    """
    if len(payload) <= 1:
        return [payload] if payload else []
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return [payload[index : index + 1] for index in range(len(payload))]
    cuts = draw(st.sets(st.integers(min_value=1, max_value=len(payload) - 1), max_size=max_cuts))
    bounds = [0, *sorted(cuts), len(payload)]
    return [payload[start:end] for start, end in pairwise(bounds)]
