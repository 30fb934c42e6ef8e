"""The web-platform-tests `eventsource/` parsing cases, as facts about `EventParser`.

Each WPT row below is one stream that a WPT test serves to a browser's `EventSource`, with
what that test asserts (or what follows from it under WHATWG HTML, "Interpreting an event
stream"): the events dispatched, in order, as ``(type, data, lastEventId)``, and the
reconnection time and last event ID string the client is left with. The streams are written
out as the bytes the WPT server resources send:

* ``resources/message.py`` sends ``message`` (URL-decoded from the query) followed by
  ``"\\n\\n"`` (nothing when ``newline=none``) and then one more ``"\\n"``.
* ``resources/message2.py`` (used by ``event-data``) sends one fixed block in a loop; one
  round of it is used here.
* ``resources/last-event-id.py`` sends ``"id: <idvalue>\\nretry: 200\\ndata: hello\\n\\n"``
  (``idvalue`` defaults to U+2026) or, on reconnection with a ``Last-Event-ID`` header,
  ``"data: <that id>\\n\\n"``; a reconnection is a fresh parser that starts from the id.
* ``resources/last-event-id2.py`` sends one of three fixed bodies chosen by ``type``.

The ``extra-*`` rows are not from WPT: they pin down WHATWG rules WPT leaves untested.

Every row is fed whole, one byte at a time, and split in two at every position: the parser
must not care how the bytes arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sse_core import BufferLimitExceeded, EventParser, ParsedEvent

Event = tuple[str, str, str]
"""An expected event: (event type, data, lastEventId)."""


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    stream: bytes
    events: tuple[Event, ...]
    retry: int | None = None
    last_event_id: str = ""
    start_last_event_id: str = ""  # the id a reconnecting client starts from


def message_py(message: bytes, *, newline_none: bool = False) -> bytes:
    """The body WPT's ``eventsource/resources/message.py`` sends for ``message``."""
    return message + (b"" if newline_none else b"\n\n") + b"\n"


ELLIPSIS = "\u2026"
ELLIPSIS_UTF8 = ELLIPSIS.encode()
LONG_COMMENT = b"x" * 2048
BOM = b"\xef\xbb\xbf"

WPT_CASES: tuple[Case, ...] = (
    # eventsource-onmessage: message.py's default message.
    Case("eventsource-onmessage", message_py(b"data: data"), (("message", "data", ""),)),
    # event-data: one round of message2.py.
    Case(
        "event-data",
        b"data:msg\ndata: msg\n\n:\nfalsefield:msg\n\nfalsefield:msg\nData:data\n\n"
        b"data\n\ndata:end\n\n",
        (("message", "msg\nmsg", ""), ("message", "", ""), ("message", "end", "")),
    ),
    # format-bom: the leading BOM is stripped; a BOM at the start of a later line is part of
    # the field name ("\ufeffdata"), an unknown field, so event 2 never comes.
    Case(
        "format-bom",
        message_py(BOM + b"data:1\n\n" + BOM + b"data:2\n\ndata:3"),
        (("message", "1", ""), ("message", "3", "")),
    ),
    # format-bom-2: only one BOM is stripped; the second makes line 1 an unknown field.
    Case(
        "format-bom-2",
        message_py(BOM + BOM + b"data:1\n\ndata:2\n\ndata:3"),
        (("message", "2", ""), ("message", "3", "")),
    ),
    # format-comments: comments (one holding NUL, empty ones, 2 KiB ones) between data lines,
    # with CR, LF and CRLF line ends.
    Case(
        "format-comments",
        message_py(
            b"data:1\r:\0\n:\r\ndata:2\n:"
            + LONG_COMMENT
            + b"\rdata:3\n:data:fail\r:"
            + LONG_COMMENT
            + b"\ndata:4\n",
            newline_none=True,
        ),
        (("message", "1\n2\n3\n4", ""),),
    ),
    # format-data-before-final-empty-line: the stream ends after "data:test2\n" with no blank
    # line, so that event is never dispatched and its id never becomes the last event ID.
    Case(
        "format-data-before-final-empty-line",
        message_py(b"retry:1000\ndata:test1\n\nid:test\ndata:test2", newline_none=True),
        (("message", "test1", ""),),
        retry=1000,
    ),
    # format-field-data: "data:" gives an empty line; "data" without a colon too.
    Case(
        "format-field-data",
        message_py(b"data:\n\ndata\ndata\n\ndata:test"),
        (("message", "", ""), ("message", "\n", ""), ("message", "test", "")),
    ),
    # format-field-event: a named event, then the type resets to "message".
    Case(
        "format-field-event",
        message_py(b"event:test\ndata:x\n\ndata:x"),
        (("test", "x", ""), ("message", "x", "")),
    ),
    # format-field-event-empty: "event: " sets an empty type, which means "message".
    Case(
        "format-field-event-empty",
        message_py(b"event: \ndata:data"),
        (("message", "data", ""),),
    ),
    # format-field-id: first connection to last-event-id.py.
    Case(
        "format-field-id",
        b"id: " + ELLIPSIS_UTF8 + b"\nretry: 200\ndata: hello\n\n",
        (("message", "hello", ELLIPSIS),),
        retry=200,
        last_event_id=ELLIPSIS,
    ),
    # format-field-id, format-field-id-2: the reconnection, which echoes Last-Event-ID; the
    # event carries the id the client reconnected with.
    Case(
        "format-field-id-reconnect",
        b"data: " + ELLIPSIS_UTF8 + b"\n\n",
        (("message", ELLIPSIS, ELLIPSIS),),
        last_event_id=ELLIPSIS,
        start_last_event_id=ELLIPSIS,
    ),
    # format-field-id-3 (last-event-id2.py): an event without an id keeps the previous one.
    Case(
        "format-field-id-3-persists",
        b"id: 1\ndata: 1\n\ndata: 2\n\nid: 2\ndata:3\n\ndata:4\n\n",
        (
            ("message", "1", "1"),
            ("message", "2", "1"),
            ("message", "3", "2"),
            ("message", "4", "2"),
        ),
        last_event_id="2",
    ),
    # format-field-id-3: "id:" (empty value) resets the last event ID.
    Case(
        "format-field-id-3-resets",
        b"id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n",
        (("message", "1", "1"), ("message", "2", ""), ("message", "3", "")),
    ),
    # format-field-id-3: "id" without a colon resets it too.
    Case(
        "format-field-id-3-resets-no-colon",
        b"id: 1\ndata: 1\n\nid\ndata:2\n\ndata:3\n\n",
        (("message", "1", "1"), ("message", "2", ""), ("message", "3", "")),
    ),
    # format-field-id-null (last-event-id.py?idvalue=...): an id holding NUL is ignored.
    *(
        Case(
            f"format-field-id-null-{name}",
            b"id: " + idvalue + b"\nretry: 200\ndata: hello\n\n",
            (("message", "hello", ""),),
            retry=200,
        )
        for name, idvalue in (
            ("nul-nul", b"\0\0"),
            ("x-nul", b"x\0"),
            ("nul-x", b"\0x"),
            ("x-nul-x", b"x\0x"),
            ("space-nul", b" \0"),
        )
    ),
    # format-field-parsing: field names are case-sensitive and exact; NUL is data; only one
    # leading space is removed; a line starting with a space is a field named " data".
    Case(
        "format-field-parsing",
        message_py(
            b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\n"
            b"data:3\rdata:\r\n data:32\ndata:4\n",
            newline_none=True,
        ),
        (("message", "\0\n 2\n1\n3\n\n4", ""),),
    ),
    # format-field-retry: "03000" is decimal 3000.
    Case(
        "format-field-retry",
        message_py(b"retry:03000\ndata:x"),
        (("message", "x", ""),),
        retry=3000,
    ),
    # format-field-retry-bogus: "1000x" is ignored; the earlier 3000 stays.
    Case(
        "format-field-retry-bogus",
        message_py(b"retry:3000\nretry:1000x\ndata:x"),
        (("message", "x", ""),),
        retry=3000,
    ),
    # format-field-retry-empty: "retry" without a value is ignored (WPT checks that the event
    # still arrives; that the reconnection time stays unset is what browsers do).
    Case(
        "format-field-retry-empty",
        message_py(b"retry\ndata:test"),
        (("message", "test", ""),),
    ),
    # format-field-unknown: unknown fields, a line that is only a field name, a comment, and
    # " data" (a field name starting with a space) are all ignored.
    Case(
        "format-field-unknown",
        message_py(
            b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test"
        ),
        (("message", "test\n\ntest", ""),),
    ),
    # format-leading-space: a tab is not stripped; "data: " is empty; a CR ends a line.
    Case(
        "format-leading-space",
        message_py(b"data:\ttest\rdata: \ndata:test"),
        (("message", "\ttest\n\ntest", ""),),
    ),
    # format-newlines: CRLF and LF line ends; message.py's final LF completes the last CRLF.
    Case(
        "format-newlines",
        message_py(b"data:test\r\ndata\ndata:test\r\n\r", newline_none=True),
        (("message", "test\n\ntest", ""),),
    ),
    # format-null-character: NUL in data passes through.
    Case(
        "format-null-character",
        message_py(b"data:\0\n\n"),
        (("message", "\0", ""),),
    ),
    # format-utf-8: always UTF-8 (the charset parameter is ignored).
    Case(
        "format-utf-8",
        message_py(b"data:ok\xe2\x80\xa6"),
        (("message", "ok\u2026", ""),),
    ),
)

EXTRA_CASES: tuple[Case, ...] = (
    Case("extra-empty-stream", b"", ()),
    Case("extra-bom-only", BOM, ()),
    Case("extra-bom-inside-value-kept", b"data: " + BOM + b"x\n\n", (("message", "\ufeffx", ""),)),
    # Blank lines with no data dispatch nothing, whatever the line ends.
    Case("extra-blank-lines-only", b"\n\n\r\n\r\r\n\r\r", ()),
    Case("extra-comments-only", b": ping\n\n:\n\n: ping\r\n\r\n", ()),
    Case("extra-no-colon-data", b"data\n\n", (("message", "", ""),)),
    Case("extra-value-with-colons", b"data: a:b: c\n\n", (("message", "a:b: c", ""),)),
    Case("extra-one-space-stripped", b"data:  x \n\n", (("message", " x ", ""),)),
    Case(
        "extra-field-names-case-sensitive",
        b"DATA: x\nData: y\ndata: z\n\n",
        (("message", "z", ""),),
    ),
    # Line ends: CR, LF, CRLF alone and mixed; LF CR is two line ends (the second line blank).
    Case("extra-cr-only", b"data: a\rdata: b\r\r", (("message", "a\nb", ""),)),
    Case("extra-lf-only", b"data: a\ndata: b\n\n", (("message", "a\nb", ""),)),
    Case("extra-crlf-only", b"data: a\r\ndata: b\r\n\r\n", (("message", "a\nb", ""),)),
    Case(
        "extra-mixed-line-ends",
        b"data: a\r\ndata: b\ndata: c\r\r\n",
        (("message", "a\nb\nc", ""),),
    ),
    Case(
        "extra-lf-cr-is-two-line-ends",
        b"data: a\n\rdata: b\n\n",
        (("message", "a", ""), ("message", "b", "")),
    ),
    # End of stream: an unfinished event or an unfinished line is never dispatched.
    Case("extra-final-line-unterminated", b"data: a\n\ndata: b", (("message", "a", ""),)),
    Case("extra-final-blank-line-missing", b"data: a\n\ndata: b\n", (("message", "a", ""),)),
    # The event type resets after every dispatch, and also after a blank line with no data.
    Case(
        "extra-event-type-reset",
        b"event: a\ndata: 1\n\ndata: 2\n\nevent: b\n\ndata: 3\n\n",
        (("a", "1", ""), ("message", "2", ""), ("message", "3", "")),
    ),
    Case("extra-event-type-last-wins", b"event: a\nevent: b\ndata: x\n\n", (("b", "x", ""),)),
    Case("extra-event-type-nul", b"event: a\0b\ndata: x\n\n", (("a\0b", "x", ""),)),
    # Last event ID: persists, is replaced, kept when an id holds NUL, reset by an empty id,
    # and set by a blank line even when no event is dispatched.
    Case(
        "extra-id-nul-keeps-previous",
        b"id: 1\ndata: a\n\nid: 2\0\ndata: b\n\n",
        (("message", "a", "1"), ("message", "b", "1")),
        last_event_id="1",
    ),
    Case(
        "extra-id-persists-and-resets",
        b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n",
        (("message", "a", "1"), ("message", "b", "1"), ("message", "c", "2"), ("message", "d", "")),
    ),
    Case("extra-id-without-data", b"id: 5\n\n", (), last_event_id="5"),
    Case("extra-id-not-dispatched", b"id: 5\n", ()),
    Case(
        "extra-id-one-space-stripped",
        b"id:  a \ndata\n\n",
        (("message", "", " a "),),
        last_event_id=" a ",
    ),
    Case(
        "extra-start-last-event-id",
        b"data: a\n\nid: 9\ndata: b\n\n",
        (("message", "a", "7"), ("message", "b", "9")),
        last_event_id="9",
        start_last_event_id="7",
    ),
    # retry: only ASCII digits, after removing one leading space; the last valid value wins.
    Case("extra-retry-space", b"retry: 10\n", (), retry=10),
    Case("extra-retry-zero", b"retry:0\n", (), retry=0),
    Case("extra-retry-two-spaces", b"retry:  10\n", ()),
    Case("extra-retry-trailing-space", b"retry: 10 \n", ()),
    Case("extra-retry-empty-after-colon", b"retry:\n", ()),
    Case("extra-retry-decimal", b"retry: 10.5\n", ()),
    Case("extra-retry-negative", b"retry: -1\n", ()),
    Case("extra-retry-plus", b"retry: +1\n", ()),
    Case("extra-retry-exponent", b"retry: 1e3\n", ()),
    Case("extra-retry-non-ascii-digits", "retry: \u0661\u0662\n".encode(), ()),
    Case("extra-retry-bogus-keeps-valid", b"retry: 10\nretry: x\nretry: 1.5\n", (), retry=10),
    Case("extra-retry-last-wins", b"retry: 10\nretry: 20\n", (), retry=20),
    # retry takes effect without a blank line and without an event.
    Case("extra-retry-unterminated-event", b"retry: 5\ndata: x\n", (), retry=5),
    # Unknown fields are ignored.
    Case(
        "extra-unknown-fields",
        b"foo: bar\nfoo\nevent2: x\ndata: ok\n\n",
        (("message", "ok", ""),),
    ),
    # UTF-8: multibyte characters in every field; invalid bytes become U+FFFD, one for each
    # maximal invalid subpart (WHATWG Encoding, "UTF-8 decode").
    Case(
        "extra-utf8-multibyte",
        "event: \u00e9v\nid: \u20ac1\ndata: caf\u00e9 \u20ac \U0001f600\n\n".encode(),
        (("\u00e9v", "caf\u00e9 \u20ac \U0001f600", "\u20ac1"),),
        last_event_id="\u20ac1",
    ),
    Case("extra-utf8-invalid-byte", b"data: a\xffb\n\n", (("message", "a\ufffdb", ""),)),
    Case("extra-utf8-truncated-3-byte", b"data: \xe2\x82\n\n", (("message", "\ufffd", ""),)),
    Case("extra-utf8-truncated-4-byte", b"data: \xf0\x9f\x98x\n\n", (("message", "\ufffdx", ""),)),
    Case("extra-utf8-surrogate", b"data: \xed\xa0\x80\n\n", (("message", "\ufffd" * 3, ""),)),
    Case("extra-utf8-overlong", b"data: \xc0\xaf\n\n", (("message", "\ufffd" * 2, ""),)),
    Case("extra-utf8-lone-continuation", b"data: \x80\x80\n\n", (("message", "\ufffd" * 2, ""),)),
    # An invalid sequence cut short by a line end: the line end still ends the line.
    Case(
        "extra-utf8-truncated-before-cr",
        b"data: \xe2\x82\rdata: b\r\r",
        (("message", "\ufffd\nb", ""),),
    ),
)

CASES = WPT_CASES + EXTRA_CASES


def _parse(case: Case, chunks: list[bytes]) -> tuple[list[Event], str, int | None]:
    parser = EventParser(last_event_id=case.start_last_event_id)
    events: list[Event] = []
    for chunk in chunks:
        events.extend((e.event, e.data, e.id) for e in parser.feed(chunk))
    return events, parser.last_event_id, parser.retry


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_stream(case: Case) -> None:
    expected = (list(case.events), case.last_event_id, case.retry)
    stream = case.stream
    assert _parse(case, [stream]) == expected, "fed whole"
    one_by_one = [stream[i : i + 1] for i in range(len(stream))]
    assert _parse(case, one_by_one) == expected, "fed one byte at a time"
    for split in range(len(stream) + 1):
        assert _parse(case, [stream[:split], stream[split:]]) == expected, f"split at {split}"


# Chunk boundaries in the awkward places, step by step.


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    parser = EventParser()
    assert parser.feed(b"data: a\r") == []
    # The LF completes the CRLF above; were it a line end of its own, the blank line would
    # dispatch "a" here.
    assert parser.feed(b"\n") == []
    assert parser.feed(b"data: b\r") == []
    assert parser.feed(b"\n\r") == [ParsedEvent("message", "a\nb", "")]
    # This LF belongs to the CR that ended the blank line: no second dispatch, nothing lost.
    assert parser.feed(b"\ndata: c\r\n\r\n") == [ParsedEvent("message", "c", "")]


def test_cr_at_chunk_end_not_followed_by_lf() -> None:
    parser = EventParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\r") == [ParsedEvent("message", "a", "")]
    assert parser.feed(b"data: b\r") == []
    assert parser.feed(b"data: c\r\r") == [ParsedEvent("message", "b\nc", "")]


def test_utf8_sequence_split_across_chunks() -> None:
    parser = EventParser()
    assert parser.feed(b"data: \xf0") == []
    assert parser.feed(b"\x9f") == []
    assert parser.feed(b"\x98") == []
    assert parser.feed(b"\x80\xe2") == []
    assert parser.feed(b"\x82\xac\n\n") == [ParsedEvent("message", "\U0001f600\u20ac", "")]


def test_bom_split_across_chunks() -> None:
    parser = EventParser()
    assert parser.feed(b"\xef") == []
    assert parser.feed(b"\xbb") == []
    assert parser.feed(b"\xbfdata: x\n\n") == [ParsedEvent("message", "x", "")]
    # Only the first BOM of the stream is stripped, even when it arrives in pieces.
    assert parser.feed(b"\xef\xbb") == []
    assert parser.feed(b"\xbfdata: y\n\ndata: z\n\n") == [ParsedEvent("message", "z", "")]


def test_empty_chunks_are_harmless() -> None:
    parser = EventParser()
    chunks = (b"", b"data: a", b"", b"\r", b"", b"\n", b"", b"\n", b"")
    results = [parser.feed(chunk) for chunk in chunks]
    assert results == [[], [], [], [], [], [], [], [ParsedEvent("message", "a", "")], []]


# The bound on buffered text.


def test_buffer_limit_on_an_unfinished_line() -> None:
    parser = EventParser(max_buffer_size=10)
    with pytest.raises(BufferLimitExceeded) as info:
        parser.feed(b"data: 0123456789")
    assert info.value.limit == 10
    assert info.value.events == []


def test_buffer_limit_keeps_events_completed_in_the_same_feed() -> None:
    parser = EventParser(max_buffer_size=16)
    assert parser.feed(b"data: first\n\n") == [ParsedEvent("message", "first", "")]
    with pytest.raises(BufferLimitExceeded) as info:
        parser.feed(b"id: 1\ndata: ok\n\ndata: " + b"x" * 32)
    assert info.value.limit == 16
    # Only the events of the failing feed; the earlier one was already returned.
    assert info.value.events == [ParsedEvent("message", "ok", "1")]
    with pytest.raises(RuntimeError):
        parser.feed(b"\n\n")


def test_buffer_limit_counts_an_events_data_across_lines() -> None:
    parser = EventParser(max_buffer_size=32)
    # Each line adds "1234" plus its LF to the event's data: the seventh goes past 32.
    for _ in range(6):
        assert parser.feed(b"data: 1234\n") == []
    with pytest.raises(BufferLimitExceeded):
        parser.feed(b"data: 1234\n")
    with pytest.raises(RuntimeError):
        parser.feed(b"\n")


def test_buffer_limit_is_per_event_not_per_stream() -> None:
    parser = EventParser(max_buffer_size=16)
    events: list[ParsedEvent] = []
    for _ in range(100):
        events += parser.feed(b"data: 12345\n\n")
    assert events == [ParsedEvent("message", "12345", "")] * 100


def test_max_buffer_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_buffer_size"):
        EventParser(max_buffer_size=0)


def test_close_discards_pending_data_and_ends_the_stream() -> None:
    parser = EventParser()
    assert parser.feed(b"id: 3\ndata: pending\n") == []
    parser.close()
    assert parser.last_event_id == ""
    with pytest.raises(RuntimeError):
        parser.feed(b"\n")
