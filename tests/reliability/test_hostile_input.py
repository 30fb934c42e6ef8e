"""Hostile input: what a client (or, for the parser, a server) can send on purpose.

Through a real uvicorn (httptools), while a healthy stream ticks:

- malformed and oversized ``Last-Event-ID`` headers: each gets either the id exactly as
  `last_event_id_from_header` reads it (None for what no server could have written) in a
  complete response, or a clean refusal (400) from the server, with bounded memory;
- a client that sends a chunked request body that never ends, on the stream's own connection:
  the body is read and dropped as it comes (not buffered), and the events keep flowing.

In process: `last_event_id_from_header` on arbitrary input, and `EventParser` fed huge lines,
endless events and random bytes: refused as soon as a line exceeds the limit, in any chunking,
and never more memory than the limit allows.
"""

from __future__ import annotations

import sys
from typing import Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.reliability.common import MIB
from support.reliability.hostile_input import (
    BODY_RSS_GROWTH_MAX,
    HOSTILE_LAST_EVENT_IDS,
    HostileResult,
    LastEventIdOutcome,
    hostile_input,
)
from support.reliability.parser import parser_peak_bound, parser_under_hostile_streams

from sse_core import BufferLimitExceeded, EventParser, ParsedEvent, last_event_id_from_header

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's /proc"),
]

BODY_BYTES: Final = 512 * MIB
# HTTP forbids these bytes in a header value; the server refuses the request.
FORBIDDEN_IN_HEADERS: Final = frozenset({"NUL", "CR", "LF", "control chars"})
LARGEST_HEADER: Final = max(len(value) for _, value in HOSTILE_LAST_EVENT_IDS)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> HostileResult:
    """One uvicorn for every header and the endless body (about 3 s in all)."""
    return hostile_input(tmp_path_factory.mktemp("hostile"), body_bytes=BODY_BYTES)


def outcome_of(result: HostileResult, label: str) -> LastEventIdOutcome:
    [outcome] = [o for o in result.last_event_ids if o.label == label]
    return outcome


@pytest.mark.parametrize(
    ("label", "value"), HOSTILE_LAST_EVENT_IDS, ids=[label for label, _ in HOSTILE_LAST_EVENT_IDS]
)
def test_a_hostile_last_event_id_gets_its_exact_reading_or_a_clean_refusal(
    result: HostileResult, label: str, value: bytes
) -> None:
    outcome = outcome_of(result, label)
    answer = outcome.answer if outcome.answer is None else outcome.answer[:80]
    print(f"{label} ({outcome.size} bytes): status {outcome.status}, answer {answer}")
    if label in FORBIDDEN_IN_HEADERS:
        assert outcome.status == 400
        return
    assert outcome.status == 200
    assert outcome.complete
    assert outcome.answer == repr(last_event_id_from_header(value))


def test_hostile_headers_cost_memory_in_proportion_and_disturb_no_one(
    result: HostileResult,
) -> None:
    """uvicorn with httptools sets no limit on a header's size (h11 refuses those over
    16 KiB): a 16 MiB id reaches the app, and costs the server about that much, once."""
    growth = result.rss_peak - result.baseline.rss
    print(f"server RSS growth over every hostile request: {growth / MIB:.1f} MiB")
    assert growth < 4 * LARGEST_HEADER
    assert result.healthy_gaps == 0
    assert result.fresh_request_status == 200
    assert result.after.tasks == result.baseline.tasks


def test_a_request_body_without_end_is_dropped_as_it_comes(result: HostileResult) -> None:
    body = result.endless_body
    print(
        f"{body.sent / MIB:.0f} MiB of request body in {body.seconds:.2f} s, "
        f"{body.server_read / MIB:.0f} MiB read by the server; its RSS "
        f"grew by {body.rss_growth / MIB:.1f} MiB at most; {body.events_during} events "
        f"arrived on the same connection meanwhile"
    )
    assert body.sent == BODY_BYTES
    assert body.server_read >= BODY_BYTES  # it reached the server, which read it
    assert body.rss_growth < BODY_RSS_GROWTH_MAX
    assert body.event_gaps == 0
    assert body.cleanup.cleaned == 1


# In process: the Last-Event-ID helper on anything.


@given(raw=st.binary(max_size=64))
def test_any_header_bytes_give_the_sent_id_or_none(raw: bytes) -> None:
    result = last_event_id_from_header(raw)
    stripped = raw.strip(b" \t")
    try:
        text: str | None = stripped.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if not stripped or any(byte in stripped for byte in b"\r\n\0"):
        text = None
    assert result == text
    # Starlette's latin-1 reading of the same bytes gives the same answer.
    assert last_event_id_from_header(raw.decode("latin-1")) == text


@given(header=st.text(max_size=64))
def test_any_header_text_gives_an_id_or_none_and_never_raises(header: str) -> None:
    result = last_event_id_from_header(header)
    if result is not None:
        assert result
        assert not any(char in result for char in "\r\n\0")


# In process: the parser.

FIELDS: Final = [b"data", b"id", b"event", b"retry", b"", b"x-unknown"]


@settings(max_examples=300)
@given(
    field=st.sampled_from(FIELDS),
    # One character repeated: ASCII, or 2, 3 or 4 bytes of UTF-8 (the limit counts characters).
    value=st.builds(
        str.__mul__,
        st.sampled_from(["x", "é", "€", "😀"]),
        st.integers(min_value=0, max_value=3000),
    ),
    limit=st.integers(min_value=1, max_value=1000),
    chunk=st.integers(min_value=1, max_value=700),
    end=st.sampled_from([b"\n", b"\r", b"\r\n"]),
)
def test_a_line_is_refused_as_soon_as_it_exceeds_the_limit_whatever_the_chunking(
    field: bytes, value: str, limit: int, chunk: int, end: bytes
) -> None:
    """One ``field: value`` line and a blank line, cut into `chunk`-byte pieces: the parser
    refuses exactly when, between two pieces, it would have to keep more than `limit`
    characters (an unfinished line, or the data of an event not yet dispatched), and
    otherwise parses the line as it would have in one piece."""
    line = field + b": " + value.encode()
    stream = line + end + end
    line_done = len(line) + 1  # the terminator's first byte ends the line
    blank_done = len(line) + len(end) + 1  # the blank line's first byte dispatches
    pending_data = len(value) + 1 if field == b"data" else 0
    expect_refusal = False
    for boundary in range(chunk, len(stream), chunk):
        if boundary < line_done:
            held = len(stream[:boundary].decode("utf-8", errors="ignore"))
        elif boundary < blank_done:
            held = pending_data
        else:
            held = 0
        if held > limit:
            expect_refusal = True
            break
    parser = EventParser(max_buffer_size=limit)
    events: list[ParsedEvent] = []
    refusal: BufferLimitExceeded | None = None
    try:
        for start in range(0, len(stream), chunk):
            events += parser.feed(stream[start : start + chunk])
    except BufferLimitExceeded as exc:
        refusal = exc
    if expect_refusal:
        assert refusal is not None, f"held over {limit} characters and did not refuse"
        assert refusal.events == []
        return
    assert refusal is None, f"refused, but never held over {limit} characters"
    if field == b"data":
        assert events == [ParsedEvent("message", value, "")]
    else:
        assert events == []
    if field == b"id":
        assert parser.last_event_id == value


def test_hostile_streams_are_refused_or_parsed_within_bounded_memory() -> None:
    """100 MiB of each hostile stream, in 64 KiB chunks, into a parser bounded to 1 MiB: an
    endless line and endless data lines are refused after about 1 MiB; 256 KiB events and
    random bytes are parsed to the end. tracemalloc's peak stays within `parser_peak_bound`
    all along (a parser that buffered the stream would need 100 MiB)."""
    chunk, limit = 64 * 1024, MIB
    results = parser_under_hostile_streams(100 * MIB, chunk=chunk, max_buffer_size=limit)
    for figures in results:
        print(
            f"{figures.label}: {figures.fed / MIB:.1f} of {figures.offered / MIB:.0f} MiB "
            f"fed, refused={figures.refused}, {figures.events} events, peak "
            f"{figures.peak / MIB:.2f} MiB, {figures.seconds:.2f} s"
        )
    by_label = {figures.label: figures for figures in results}
    for label in ("one line without end", "data lines, never a blank line"):
        assert by_label[label].refused
        assert by_label[label].fed <= limit + 2 * chunk
    assert not by_label["256 KiB events"].refused
    assert by_label["256 KiB events"].events == 100 * MIB // (256 * 1024)
    assert not by_label["random bytes"].refused
    for figures in results:
        assert figures.peak <= parser_peak_bound(limit, chunk), figures
