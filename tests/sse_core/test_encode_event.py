"""`encode_event`: the public writer of one event's fields, as `ServerSentEvent` writes them."""

from __future__ import annotations

import enum
import inspect
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sse_core
from sse_core import (
    EventParser,
    InvalidEventError,
    ParsedEvent,
    ServerSentEvent,
    encode,
    encode_event,
)
from sse_core import strategies as sse_st

# Each field present or absent independently, as `ServerSentEvent` takes them.
fields = st.tuples(
    st.none() | sse_st.event_data,
    st.none() | sse_st.event_types,
    st.none() | sse_st.event_ids,
    st.none() | sse_st.retries,
    st.none() | sse_st.comments,
)
Fields = tuple[str | None, str | None, str | None, int | None, str | None]


def as_kwargs(values: Fields) -> dict[str, Any]:
    return dict(zip(ServerSentEvent.__match_args__, values, strict=True))


def test_it_is_public() -> None:
    assert "encode_event" in sse_core.__all__
    assert sse_core.encode_event.__qualname__ == "encode_event"


def test_the_fields_come_in_the_order_of_server_sent_event() -> None:
    parameters = inspect.signature(encode_event).parameters
    assert tuple(parameters) == ServerSentEvent.__match_args__
    assert all(parameter.default is None for parameter in parameters.values())


@given(values=fields)
def test_the_bytes_are_the_wire_of_the_same_event(values: Fields) -> None:
    wire = ServerSentEvent(**as_kwargs(values)).wire
    assert encode_event(*values) == wire
    assert encode_event(**as_kwargs(values)) == wire
    assert encode(as_kwargs(values)) == wire


@given(values=fields, data=st.data())
def test_a_client_reads_back_the_fields(values: Fields, data: st.DataObject) -> None:
    text, event, id, retry, _ = values
    parser = EventParser()
    received: list[ParsedEvent] = []
    for chunk in data.draw(sse_st.chunkings(encode_event(*values))):
        received += parser.feed(chunk)
    if text is None:
        assert received == []
    else:
        lf_text = text.replace("\r\n", "\n").replace("\r", "\n")
        assert received == [ParsedEvent(event or "message", lf_text, id or "")]
    assert parser.last_event_id == (id or "")
    assert parser.retry == retry


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"id": "a\0b"}, "id", "NUL"),
        ({"id": "a\nb"}, "id", "line break"),
        ({"id": "a\rb"}, "id", "line break"),
        ({"event": "a\r\n"}, "event", "line break"),
        ({"event": "\n"}, "event", "line break"),
        ({"retry": -1}, "retry", ">= 0"),
        ({"data": "x\ud83d"}, "data", "surrogate"),
        ({"data": "x\ud83d", "id": "1"}, "data", "surrogate"),
        ({"comment": "\udfff"}, "comment", "surrogate"),
        ({"event": "\udfff"}, "event", "surrogate"),
        ({"id": "\udfff", "data": "x"}, "id", "surrogate"),
    ],
)
def test_an_invalid_field_is_refused_naming_it(
    kwargs: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidEventError, match=message) as caught:
        encode_event(**kwargs)
    assert caught.value.field == field
    assert f"{field!r}" in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"data": 1}, "data"),
        ({"data": b"x"}, "data"),
        ({"data": {"n": 1}}, "data"),
        ({"event": 1}, "event"),
        ({"id": 7}, "id"),
        ({"comment": []}, "comment"),
        ({"retry": "5"}, "retry"),
        ({"retry": True}, "retry"),
        ({"retry": 1.0}, "retry"),
    ],
)
def test_a_field_of_the_wrong_type_is_a_type_error_naming_it(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(TypeError, match=f"'{field}' field must be"):
        encode_event(**kwargs)


@given(invalid=sse_st.invalid_fields())
def test_every_value_an_event_refuses_is_refused_alike(invalid: sse_st.InvalidField) -> None:
    with pytest.raises(InvalidEventError) as caught:
        encode_event(**invalid.as_kwargs())
    with pytest.raises(InvalidEventError) as by_event:
        ServerSentEvent(**invalid.as_kwargs())
    assert caught.value.field == invalid.field
    assert str(caught.value) == str(by_event.value)


def test_a_name_that_is_not_a_field_is_refused() -> None:
    with pytest.raises(TypeError, match="user"):
        encode_event("x", user="alice")  # type: ignore[call-arg]


def test_enum_members_are_written_as_their_values() -> None:
    class Kind(enum.StrEnum):
        TICK = "tick"

    class Delay(enum.IntEnum):
        SHORT = 100

    wire = encode_event(Kind.TICK, event=Kind.TICK, retry=Delay.SHORT)
    assert wire == b"event: tick\ndata: tick\nretry: 100\n\n"


def test_none_and_empty_data_stay_apart() -> None:
    assert encode_event() == b"\n"
    assert encode_event("") == b"data: \n\n"
    assert encode_event(None, id="1") == b"id: 1\n\n"
