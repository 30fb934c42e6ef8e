"""`EventEncoder.encode_data`: data given as UTF-8 bytes, as examples and as round-trip properties.

The referee is `sse_core.EventParser`, which reads a stream as a browser does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_core import (
    EventEncoder,
    EventParser,
    InvalidEventError,
    LineTerminator,
    ParsedEvent,
    encode,
)
from sse_core import strategies as sse_st

LINE_TERMINATORS: tuple[LineTerminator, ...] = ("\n", "\r\n", "\r")
line_terminators = st.sampled_from(LINE_TERMINATORS)


@dataclass(frozen=True)
class DataCase:
    id: str
    data: Any
    wire: bytes


DATA_CASES = (
    DataCase("compact JSON", b'{"n":1,"s":"a b"}', b'data: {"n":1,"s":"a b"}\n\n'),
    DataCase("empty data is one empty data line", b"", b"data: \n\n"),
    DataCase("non-ASCII UTF-8 is written as it is", "é😀".encode(), "data: é😀\n\n".encode()),
    DataCase("LF splits lines", b"a\nb", b"data: a\ndata: b\n\n"),
    DataCase("CRLF and CR become lines", b"a\r\nb\rc", b"data: a\ndata: b\ndata: c\n\n"),
    DataCase("trailing LF kept", b"x\n", b"data: x\ndata: \n\n"),
    DataCase("indented JSON spans lines", b'{\n "a": 1\n}', b'data: {\ndata:  "a": 1\ndata: }\n\n'),
    DataCase("U+2028 is not a line break", "a\u2028b".encode(), "data: a\u2028b\n\n".encode()),
    DataCase("leading space survives", b" x", b"data:  x\n\n"),
    DataCase("bytearray", bytearray(b"[1]"), b"data: [1]\n\n"),
    DataCase("memoryview", memoryview(b"[2]"), b"data: [2]\n\n"),
)


@pytest.mark.parametrize("case", DATA_CASES, ids=[case.id for case in DATA_CASES])
def test_wire_bytes(case: DataCase) -> None:
    assert EventEncoder().encode_data(case.data) == case.wire


@pytest.mark.parametrize("line_terminator", LINE_TERMINATORS, ids=repr)
def test_line_terminator_ends_every_line(line_terminator: LineTerminator) -> None:
    end = line_terminator.encode()
    encoder = EventEncoder(line_terminator=line_terminator)
    assert encoder.encode_data(b"a\nb") == b"data: a" + end + b"data: b" + end + end
    assert encoder.encode_data(b"[1]") == b"data: [1]" + end + end


@pytest.mark.parametrize(
    "data",
    [b"\xff", b"ok \xc3", b"\xed\xa0\x80", b"a\n\xff"],
    ids=["invalid start byte", "cut character", "encoded surrogate", "after a line break"],
)
def test_bytes_that_are_not_utf8_are_refused_naming_data(data: bytes) -> None:
    with pytest.raises(InvalidEventError, match="'data'") as raised:
        EventEncoder().encode_data(data)
    assert raised.value.field == "data"


@pytest.mark.parametrize("data", ["text", 1, None, [104, 105]], ids=repr)
def test_anything_but_bytes_is_a_type_error(data: Any) -> None:
    with pytest.raises(TypeError, match="bytes"):
        EventEncoder().encode_data(data)


def test_the_json_of_a_serializer_arrives_as_that_json() -> None:
    value = {"text": "line\nbreak", "n": [1.5, None]}
    wire = EventEncoder().encode_data(json.dumps(value, separators=(",", ":")).encode())
    (event,) = EventParser().feed(wire)
    assert json.loads(event.data) == value


@given(text=sse_st.event_data, line_terminator=line_terminators)
def test_bytes_data_encodes_as_its_text_does(text: str, line_terminator: LineTerminator) -> None:
    encoder = EventEncoder(line_terminator=line_terminator)
    assert encoder.encode_data(text.encode()) == encode(text, line_terminator=line_terminator)


@given(text=sse_st.event_data, line_terminator=line_terminators, data=st.data())
def test_output_parses_back_as_the_data_under_every_chunking(
    text: str, line_terminator: LineTerminator, data: st.DataObject
) -> None:
    wire = EventEncoder(line_terminator=line_terminator).encode_data(text.encode())
    parser = EventParser()
    received: list[ParsedEvent] = []
    for chunk in data.draw(sse_st.chunkings(wire)):
        received += parser.feed(chunk)
    # CR and CRLF inside data arrive as LF: the best the format allows (SPEC invariant 1).
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert received == [ParsedEvent("message", expected, "")]


@given(payload=st.binary(max_size=40))
def test_arbitrary_bytes_are_written_whole_or_refused(payload: bytes) -> None:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(InvalidEventError):
            EventEncoder().encode_data(payload)
        return
    (event,) = EventParser().feed(EventEncoder().encode_data(payload))
    assert event.data == text.replace("\r\n", "\n").replace("\r", "\n")
