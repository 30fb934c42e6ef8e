"""`sse_core.strategies.dispatched_events` says what a client receives, as the parser does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sse_core import EventParser, LineTerminator, ParsedEvent, ServerSentEvent, encode_many
from sse_core import strategies as sse_st
from sse_core.pydantic import EventModel

line_terminators = st.sampled_from(["\n", "\r\n", "\r"])


def parse(chunks: list[bytes], *, last_event_id: str = "") -> tuple[list[ParsedEvent], EventParser]:
    parser = EventParser(last_event_id=last_event_id)
    received = [event for chunk in chunks for event in parser.feed(chunk)]
    return received, parser


@settings(max_examples=300)
@given(events=sse_st.events_lists(), terminator=line_terminators, data=st.data())
def test_the_parser_receives_exactly_what_it_says_under_every_chunking(
    events: list[ServerSentEvent], terminator: LineTerminator, data: st.DataObject
) -> None:
    wire = encode_many(events, line_terminator=terminator)
    received, parser = parse(data.draw(sse_st.chunkings(wire)))
    assert received == sse_st.dispatched_events(events)
    assert (parser.last_event_id, parser.retry) == sse_st.reconnection_state(events)


@given(events=sse_st.events_lists(), start=sse_st.event_ids, retry=st.none() | sse_st.retries)
def test_a_reconnecting_client_starts_from_what_it_held(
    events: list[ServerSentEvent], start: str, retry: int | None
) -> None:
    received, parser = parse([encode_many(events)], last_event_id=start)
    assert received == sse_st.dispatched_events(events, last_event_id=start)
    # A parser starts without a retry; the client keeps the one it held until a new one comes.
    held_retry = retry if parser.retry is None else parser.retry
    state = sse_st.reconnection_state(events, last_event_id=start, retry=retry)
    assert state == (parser.last_event_id, held_retry)


@given(events=sse_st.events_lists(max_size=6))
def test_typed_models_count_as_the_event_they_stand_for(events: list[ServerSentEvent]) -> None:
    with_data = [event for event in events if event.data is not None]
    models = [
        EventModel[str](data=e.data or "", event=e.event, id=e.id, retry=e.retry) for e in with_data
    ]
    assert sse_st.dispatched_events(models) == sse_st.dispatched_events(with_data)


E = ServerSentEvent


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([], [], id="nothing sent, nothing received"),
        pytest.param([E("")], [("message", "", "")], id="empty data is an event"),
        pytest.param([E()], [], id="no field at all dispatches nothing"),
        pytest.param([E(id="1"), E("x")], [("message", "x", "1")], id="id without data persists"),
        pytest.param(
            [E("a", id="1"), E("b"), E("c", id=""), E("d")],
            [
                ("message", "a", "1"),
                ("message", "b", "1"),
                ("message", "c", ""),
                ("message", "d", ""),
            ],
            id="ids persist until an empty id resets them",
        ),
        pytest.param(
            [E("a\r\nb\rc\nd")], [("message", "a\nb\nc\nd", "")], id="CR and CRLF arrive as LF"
        ),
        pytest.param([E("x\n")], [("message", "x\n", "")], id="a trailing line break is kept"),
        pytest.param([E("\r\n")], [("message", "\n", "")], id="a lone CRLF is one LF"),
        pytest.param(
            [E("a\u2028b\x85c\vd\fe\x1cf\0g")],
            [("message", "a\u2028b\x85c\vd\fe\x1cf\0g", "")],
            id="what str.splitlines() splits on arrives whole",
        ),
        pytest.param([E(" lead", event=" t")], [(" t", " lead", "")], id="leading spaces survive"),
        pytest.param([E("x", event="")], [("message", "x", "")], id="an empty type is message"),
        pytest.param(
            [E("x", retry=10), E(retry=20), E(comment="c\nd"), E("y", comment="z")],
            [("message", "x", ""), ("message", "y", "")],
            id="retry and comments are never dispatched",
        ),
        pytest.param(
            [E(event="lost", id="9"), E("x")],
            [("message", "x", "9")],
            id="a type without data does not carry over",
        ),
        pytest.param([E("\ufeffx")], [("message", "\ufeffx", "")], id="a BOM inside data stays"),
    ],
)
def test_edge_cases(events: list[ServerSentEvent], expected: list[tuple[str, str, str]]) -> None:
    assert sse_st.dispatched_events(events) == [ParsedEvent(*fields) for fields in expected]
    for terminator in ("\n", "\r\n", "\r"):
        received, _ = parse([encode_many(events, line_terminator=terminator)])
        assert received == sse_st.dispatched_events(events)


@pytest.mark.parametrize(
    ("events", "state"),
    [
        pytest.param([], ("", None), id="a fresh client"),
        pytest.param([E(id="7"), E("x", retry=500)], ("7", 500), id="ids without data count"),
        pytest.param([E("x", retry=2**64 - 1)], ("", 2**64 - 1), id="the largest retry"),
        pytest.param([E("x", retry=5), E(retry=2**64)], ("", 5), id="a retry too large is ignored"),
    ],
)
def test_reconnection_state(events: list[ServerSentEvent], state: tuple[str, int | None]) -> None:
    assert sse_st.reconnection_state(events) == state
    _, parser = parse([encode_many(events)])
    assert (parser.last_event_id, parser.retry) == state


def test_anything_but_an_event_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="got str"):
        sse_st.dispatched_events(["data"])  # type: ignore[list-item]
