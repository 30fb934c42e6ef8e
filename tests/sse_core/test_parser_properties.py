"""Properties of the parser on arbitrary input: it never fails but as documented."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sse_core import BufferLimitExceeded, EventParser, ParsedEvent
from sse_core import strategies as sse_st

# Bytes biased towards what matters to the grammar.
stream_bytes = st.lists(
    st.one_of(
        st.sampled_from([b"\r", b"\n", b"\r\n", b":", b" ", b"data", b"id", b"event", b"retry"]),
        st.sampled_from([b"\xef\xbb\xbf", b"\x00", b"\xe2\x82", b"\xac", b"\xff", b"7"]),
        st.binary(max_size=8),
    ),
    max_size=60,
).map(b"".join)


def parse(chunks: list[bytes], max_buffer_size: int = 1 << 20) -> list[ParsedEvent]:
    parser = EventParser(max_buffer_size=max_buffer_size)
    events: list[ParsedEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events


@settings(max_examples=400)
@given(payload=stream_bytes, data=st.data())
def test_chunking_never_changes_the_events(payload: bytes, data: st.DataObject) -> None:
    chunks = data.draw(sse_st.chunkings(payload))
    assert parse(chunks) == parse([payload])


@settings(max_examples=400)
@given(payload=stream_bytes, limit=st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_raise_nothing_but_the_buffer_limit(payload: bytes, limit: int) -> None:
    parser = EventParser(max_buffer_size=limit)
    error: BufferLimitExceeded | None = None
    try:
        for byte in payload:
            parser.feed(bytes([byte]))
    except BufferLimitExceeded as exc:
        error = exc
    if error is not None:
        assert error.limit == limit
        with pytest.raises(RuntimeError, match="closed"):
            parser.feed(b"\n")


@given(payload=stream_bytes)
def test_events_hold_only_text_and_a_type(payload: bytes) -> None:
    for event in parse([payload]):
        assert event.event != ""
        assert "\r" not in event.data
        assert "\0" not in event.id


def test_huge_unterminated_line_is_refused_not_buffered() -> None:
    parser = EventParser(max_buffer_size=1000)
    for _ in range(9):
        assert parser.feed(b"data: " + b"x" * 100) == []
    with pytest.raises(BufferLimitExceeded) as caught:
        parser.feed(b"data: " + b"x" * 100)
    assert caught.value.events == []


def test_huge_retry_is_ignored_like_browsers() -> None:
    parser = EventParser()
    parser.feed(b"retry: 18446744073709551615\n\n")
    assert parser.retry == 2**64 - 1
    parser.feed(b"retry: 18446744073709551616\n\nretry: " + b"9" * 5000 + b"\n\n")
    assert parser.retry == 2**64 - 1


def test_initial_last_event_id_is_used_until_replaced() -> None:
    parser = EventParser(last_event_id="41")
    assert parser.feed(b"data: a\n\nid: 42\ndata: b\n\n") == [
        ParsedEvent("message", "a", "41"),
        ParsedEvent("message", "b", "42"),
    ]
