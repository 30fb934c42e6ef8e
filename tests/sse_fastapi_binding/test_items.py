"""How the FastAPI binding writes items: a table of cases and round-trip properties.

The round trip goes through `sse_core.EventParser`, which reads a stream as a browser does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.exceptions import ResponseValidationError
from fastapi.sse import ServerSentEvent as FastAPIEvent
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from sse_core import EventParser, InvalidEventError, ServerSentEvent
from sse_core.pydantic import EventModel
from sse_fastapi_binding._items import ItemEncoder, item_encoder
from sse_starlette_binding import ServerSentEvent as StarletteEvent


class Message(BaseModel):
    author: str
    text: str
    score: float | None = None


# Any text, including the characters that end lines in some readers but not in event streams.
TEXT = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["a\nb", "a\r\nb", "\r", "\u2028\u2029\x85", "\x00", "😀 astral", " leading space"]
)
MESSAGES = st.builds(
    Message,
    author=TEXT,
    text=TEXT,
    score=st.none() | st.floats(allow_nan=False, allow_infinity=False),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def parse_one(wire: bytes) -> Any:
    (event,) = EventParser().feed(wire)
    return event


@given(MESSAGES)
def test_a_typed_item_arrives_as_the_json_of_the_same_model(message: Message) -> None:
    event = parse_one(ItemEncoder(Message).encode(message))
    assert event.event == "message"
    assert Message.model_validate_json(event.data) == message


@given(JSON_VALUES)
def test_an_untyped_item_arrives_as_its_json(value: Any) -> None:
    event = parse_one(ItemEncoder().encode(value))
    assert json.loads(event.data) == value


@given(MESSAGES)
def test_the_data_of_a_typed_item_is_always_one_line(message: Message) -> None:
    wire = ItemEncoder(Message).encode(message)
    assert wire.count(b"\n") == 2
    assert b"\r" not in wire


@pytest.mark.parametrize(
    ("item", "wire"),
    [
        ({"author": "a", "text": "b"}, b'data: {"author":"a","text":"b","score":null}\n\n'),
        (
            Message(author="a", text="b", score=1.5),
            b'data: {"author":"a","text":"b","score":1.5}\n\n',
        ),
        (ServerSentEvent("text\nas is", id="3"), b"id: 3\ndata: text\ndata: as is\n\n"),
        (
            EventModel[Message](data=Message(author="a", text="b"), event="m"),
            b'event: m\ndata: {"author":"a","text":"b","score":null}\n\n',
        ),
        (FastAPIEvent(raw_data="raw", event="r"), b"event: r\ndata: raw\n\n"),
        (FastAPIEvent(data={"free": "form"}), b'data: {"free":"form"}\n\n'),
        (FastAPIEvent(comment="c\nd"), b": c\n: d\n\n"),
        (FastAPIEvent(id="7"), b"id: 7\n\n"),
        (b"data: pre-encoded\n\n", b"data: pre-encoded\n\n"),
        (StarletteEvent("a\nb", event="x", id="1"), b"id: 1\nevent: x\ndata: a\ndata: b\n\n"),
    ],
    ids=[
        "dict-validated",
        "model",
        "core-event",
        "typed-event-model",
        "fastapi-raw-data",
        "fastapi-data-not-validated",
        "fastapi-comment",
        "fastapi-id-only",
        "bytes",
        "starlette-binding-event-written-with-lf",
    ],
)
def test_items_of_a_typed_stream(item: Any, wire: bytes) -> None:
    assert ItemEncoder(Message).encode(item) == wire


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ({"author": "a"}, "text"),
        ({"author": "a", "text": "b", "score": "high"}, "score"),
        ("just text", "Message"),
    ],
)
def test_an_item_that_is_not_of_the_stream_type_is_refused_naming_the_field(
    item: Any, match: str
) -> None:
    with pytest.raises(ResponseValidationError, match=match):
        ItemEncoder(Message).encode(item)


def test_an_invalid_event_is_refused_before_any_byte() -> None:
    with pytest.raises(InvalidEventError, match="id"):
        # Built without fastapi.sse's own checks, which would refuse this id first.
        ItemEncoder(Message).encode(FastAPIEvent.model_construct(id="a\x00b"))


def test_nan_is_written_as_null_never_as_invalid_json() -> None:
    # JSON has no NaN: pydantic writes null for a float NaN in a typed model, and an untyped
    # NaN is written as null too (as fastapi.sse does), so a client's JSON.parse never fails.
    assert json.loads(parse_one(ItemEncoder().encode(float("nan"))).data) is None
    assert (
        json.loads(
            parse_one(
                ItemEncoder(Message).encode({"author": "a", "text": "b", "score": float("nan")})
            ).data
        )["score"]
        is None
    )


def test_encoders_are_built_once_per_item_type() -> None:
    assert item_encoder(Message) is item_encoder(Message)
    assert item_encoder(list[Message]) is item_encoder(list[Message])
    assert item_encoder(None).adapter is None
