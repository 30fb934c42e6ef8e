"""The encoder: SPEC's wire-format invariants as example tables; the round trip as a property."""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from support.oracle import ClientView, expected_client_view

from sse_core import (
    EventEncoder,
    EventParser,
    InvalidEventError,
    LineTerminator,
    ParsedEvent,
    ServerSentEvent,
    encode,
    encode_comment,
    encode_many,
)
from sse_core import strategies as sse_st

LINE_TERMINATORS: tuple[LineTerminator, ...] = ("\n", "\r\n", "\r")
line_terminators = st.sampled_from(LINE_TERMINATORS)


@dataclass(frozen=True)
class WireCase:
    id: str
    item: Any
    wire: bytes


WIRE_CASES = (
    WireCase("text", "hello", b"data: hello\n\n"),
    WireCase("empty data is one empty data line", "", b"data: \n\n"),
    WireCase("no data writes no data line", ServerSentEvent(id="7"), b"id: 7\n\n"),
    WireCase("trailing LF kept", "x\n", b"data: x\ndata: \n\n"),
    WireCase("CRLF and CR become lines", "a\r\nb\rc", b"data: a\ndata: b\ndata: c\n\n"),
    WireCase("CR then LF is two breaks", "a\n\rb", b"data: a\ndata: \ndata: b\n\n"),
    WireCase("U+2028 is not a line break", "a\u2028b", "data: a\u2028b\n\n".encode()),
    WireCase("U+0085 is not a line break", "a\x85b", "data: a\x85b\n\n".encode()),
    WireCase("VT and FF are not line breaks", "a\vb\fc", b"data: a\x0bb\x0cc\n\n"),
    WireCase("leading space survives", " x", b"data:  x\n\n"),
    WireCase("NUL in data passes", "a\0b", b"data: a\x00b\n\n"),
    WireCase("astral character", "\U0001f600", "data: \U0001f600\n\n".encode()),
    WireCase(
        "field order: comment, id, event, data, retry",
        ServerSentEvent("d", event="e", id="i", retry=5, comment="c"),
        b": c\nid: i\nevent: e\ndata: d\nretry: 5\n\n",
    ),
    WireCase("multi-line comment", ServerSentEvent(comment="a\r\nb"), b": a\n: b\n\n"),
    WireCase("empty id resets the last id", ServerSentEvent("x", id=""), b"id: \ndata: x\n\n"),
    WireCase("retry zero", ServerSentEvent(retry=0), b"retry: 0\n\n"),
    WireCase("empty event", ServerSentEvent(), b"\n"),
    WireCase("mapping", {"data": "x", "event": "e"}, b"event: e\ndata: x\n\n"),
    WireCase("mapping with JSON data", {"data": {"a": [1, 2]}}, b'data: {"a":[1,2]}\n\n'),
    WireCase("mapping without data", {"id": "3"}, b"id: 3\n\n"),
    WireCase("JSON list", [1, "é", None], 'data: [1,"é",null]\n\n'.encode()),
    WireCase("JSON number", 1.5, b"data: 1.5\n\n"),
    WireCase("bytes pass through", b"data: raw\n\n", b"data: raw\n\n"),
    WireCase("memoryview passes through", memoryview(b": x\n\n"), b": x\n\n"),
)


@pytest.mark.parametrize("case", WIRE_CASES, ids=[case.id for case in WIRE_CASES])
def test_wire_bytes(case: WireCase) -> None:
    assert encode(case.item) == case.wire


@pytest.mark.parametrize("line_terminator", LINE_TERMINATORS, ids=repr)
def test_line_terminator_replaces_every_line_end(line_terminator: LineTerminator) -> None:
    event = ServerSentEvent("a\nb", event="e", comment="c")
    wire = encode(event, line_terminator=line_terminator)
    assert wire == b": c\nevent: e\ndata: a\ndata: b\n\n".replace(b"\n", line_terminator.encode())


def test_bytes_are_never_rewritten_for_another_line_terminator() -> None:
    assert encode(b"data: x\n\n", line_terminator="\r\n") == b"data: x\n\n"


def test_unknown_line_terminator_is_refused() -> None:
    with pytest.raises(ValueError, match="line_terminator"):
        EventEncoder(line_terminator="\n\n")  # type: ignore[arg-type]


def test_none_item_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="None"):
        encode(None)


def test_unknown_mapping_key_is_named() -> None:
    with pytest.raises(TypeError, match="'user'"):
        encode({"data": "x", "user": "alice"})


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"data": "x", "id": "a\nb"}, "id"),
        ({"event": "a\rb"}, "event"),
        ({"retry": -1}, "retry"),
        ("lone \ud800 surrogate", "data"),
        ({"comment": "\udfff"}, "comment"),
        ({"data": math.nan}, "data"),
        ([math.inf], "data"),
    ],
)
def test_invalid_items_name_the_field(item: Any, field: str) -> None:
    with pytest.raises(InvalidEventError) as caught:
        encode(item)
    assert caught.value.field == field
    assert repr(field) in str(caught.value)


def test_unserializable_data_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode(object())


def test_circular_data_is_a_clear_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidEventError, match="circular"):
        encode(loop)


def test_pluggable_json_serializer_may_return_bytes() -> None:
    def dumps(value: Any) -> bytes:
        return json.dumps(value, indent=1).encode()

    wire = encode({"data": {"a": 1}}, json_dumps=dumps)
    assert wire == b'data: {\ndata:  "a": 1\ndata: }\n\n'
    assert EventParser().feed(wire) == [ParsedEvent("message", '{\n "a": 1\n}', "")]


def test_json_serializer_returning_neither_str_nor_bytes_is_refused() -> None:
    def dumps(value: Any) -> Any:
        return 1

    with pytest.raises(TypeError, match="json_dumps"):
        encode([1], json_dumps=dumps)


def test_pydantic_model_is_serialized_by_pydantic() -> None:
    class Point(BaseModel):
        x: int
        label: str

    assert encode(Point(x=1, label="é")) == 'data: {"x":1,"label":"é"}\n\n'.encode()


def test_comment_helper() -> None:
    assert encode_comment("ping") == b": ping\n\n"
    assert encode_comment("a\nb", line_terminator="\r\n") == b": a\r\n: b\r\n\r\n"
    assert EventParser().feed(encode_comment("ping")) == []


def test_encode_many_is_the_concatenation() -> None:
    items = ["a", ServerSentEvent(id="1"), {"data": "b"}]
    assert encode_many(items) == b"".join(encode(item) for item in items)


@settings(max_examples=300)
@given(events=sse_st.events_lists(), line_terminator=line_terminators, data=st.data())
def test_round_trip_under_every_chunking(
    events: list[ServerSentEvent], line_terminator: LineTerminator, data: st.DataObject
) -> None:
    wire = encode_many(events, line_terminator=line_terminator)
    parser = EventParser()
    received: list[ParsedEvent] = []
    for chunk in data.draw(sse_st.chunkings(wire)):
        received += parser.feed(chunk)
    assert ClientView(received, parser.last_event_id, parser.retry) == expected_client_view(events)


@given(event=sse_st.events())
def test_event_wire_is_what_encode_returns(event: ServerSentEvent) -> None:
    assert event.wire == encode(event) == encode(event.replace())


@given(text=sse_st.event_data)
def test_text_and_event_with_that_data_encode_alike(text: str) -> None:
    assert encode(text) == encode(ServerSentEvent(text)) == encode({"data": text})


def test_objects_that_know_their_event_are_encoded_as_that_event() -> None:
    class Tick:
        def to_server_sent_event(self) -> ServerSentEvent:
            return ServerSentEvent("tick", event="clock")

    class Broken:
        def to_server_sent_event(self) -> str:
            return "not an event"

    assert encode(Tick()) == b"event: clock\ndata: tick\n\n"
    with pytest.raises(TypeError, match=r"Broken\.to_server_sent_event"):
        encode(Broken())


@given(event=sse_st.events())
def test_a_mapping_of_fields_encodes_as_the_event_with_those_fields(
    event: ServerSentEvent,
) -> None:
    values = (event.data, event.event, event.id, event.retry, event.comment)
    every_field = dict(zip(ServerSentEvent.__match_args__, values, strict=True))
    present = {name: value for name, value in every_field.items() if value is not None}
    assert encode(every_field) == encode(present) == event.wire
    assert encode(MappingProxyType(present)) == event.wire


@pytest.mark.parametrize(
    "fields",
    [
        {"data": "x", "user": "alice"},
        {1: "x"},
        # Named like the encoder's own positional parameter: still not a field.
        {"data_text": str},
        # An unknown key is reported even when a known field also has the wrong type.
        {"id": 7, "user": "alice"},
    ],
    ids=["unknown", "not a str", "the encoder's parameter", "unknown and a wrong type"],
)
def test_a_mapping_with_a_key_that_is_not_a_field_is_refused(fields: dict[Any, Any]) -> None:
    with pytest.raises(TypeError, match=r"unknown event field\(s\)"):
        encode(fields)
    with pytest.raises(TypeError, match=r"unknown event field\(s\)"):
        EventEncoder(line_terminator="\r\n").encode(MappingProxyType(fields))


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"id": 7}, "'id' field must be a str"), ({"retry": "5"}, "'retry' field must be an int")],
)
def test_a_mapping_field_of_the_wrong_type_is_named(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        encode(fields)


def test_mapping_data_that_is_a_str_subclass_is_text_not_json() -> None:
    class Colour(enum.StrEnum):
        RED = "red"

    assert encode({"data": Colour.RED, "event": Colour.RED}) == b"event: red\ndata: red\n\n"


@pytest.mark.parametrize(
    ("item", "field", "index"),
    [
        ({"comment": "a\nb\udfff"}, "comment", 3),
        ({"data": "a\r\nb\ud800", "id": "1"}, "data", 3),
        ("one\ntwo\udc00", "data", 7),
    ],
)
def test_an_unencodable_character_is_found_where_the_caller_put_it(
    item: Any, field: str, index: int
) -> None:
    # Lines are rewritten while they are written; the error still points into the value as
    # given (after CRLF became LF), not into the rewritten lines.
    with pytest.raises(InvalidEventError, match=f"at index {index}") as caught:
        encode(item)
    assert caught.value.field == field


class KeepsItsBytes:
    """An event object that validated its fields with sse_core and kept the bytes."""

    def __init__(self, event: ServerSentEvent) -> None:
        self.event = event
        self.calls = 0

    def __sse_wire__(self) -> bytes:
        self.calls += 1
        return self.event.wire


def test_an_object_that_keeps_its_bytes_is_sent_with_them() -> None:
    item = KeepsItsBytes(ServerSentEvent("a\nb", event="e"))
    assert encode(item) == b"event: e\ndata: a\ndata: b\n\n"
    assert EventEncoder(line_terminator="\r\n").encode(item) == (
        b"event: e\r\ndata: a\r\ndata: b\r\n\r\n"
    )
    assert encode_many([item, "x"]) == b"event: e\ndata: a\ndata: b\n\ndata: x\n\n"
    assert item.calls == 3


def test_the_hook_is_looked_up_on_the_type_and_must_return_bytes() -> None:
    class Text:
        def __sse_wire__(self) -> str:
            return "data: x\n\n"

    with pytest.raises(TypeError, match=r"Text\.__sse_wire__\(\) returned str, not bytes"):
        encode(Text())

    class NotAHook:
        pass

    # An attribute of the instance is not the type's hook: the object is JSON data as before.
    instance = NotAHook()
    instance.__sse_wire__ = lambda: b"data: x\n\n"  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode(instance)


def test_a_serializer_that_cannot_be_hashed_is_still_used() -> None:
    class Dumps:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, value: Any) -> bytes:
            return json.dumps(value, separators=(",", ":")).encode()

    assert encode({"data": [1, 2]}, json_dumps=Dumps()) == b"data: [1,2]\n\n"
    assert encode_many([[1]], json_dumps=Dumps(), line_terminator="\r\n") == b"data: [1]\r\n\r\n"


def test_the_same_settings_give_the_same_bytes_call_after_call() -> None:
    calls: list[Any] = []

    def dumps(value: Any) -> str:
        calls.append(value)
        return json.dumps(value)

    for _ in range(3):
        assert encode({"data": {"a": 1}}, json_dumps=dumps, line_terminator="\r") == (
            b'data: {"a": 1}\r\r'
        )
    assert calls == [{"a": 1}] * 3


def test_an_encoder_uses_its_current_serializer() -> None:
    encoder = EventEncoder()
    assert encoder.encode({"data": [1]}) == b"data: [1]\n\n"
    encoder.json_dumps = lambda value: "replaced"
    assert encoder.encode({"data": [1]}) == b"data: replaced\n\n"
    assert encoder.encode([1]) == b"data: replaced\n\n"
