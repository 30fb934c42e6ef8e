"""`ServerSentEvent`: validation on construction, immutability, value semantics."""

from __future__ import annotations

import copy
import enum
import pickle
from typing import Any

import pytest
from hypothesis import given

from sse_core import InvalidEventError, ServerSentEvent, encode
from sse_core import strategies as sse_st


@given(invalid=sse_st.invalid_fields())
def test_every_invalid_field_is_refused_naming_the_field(invalid: sse_st.InvalidField) -> None:
    with pytest.raises(InvalidEventError) as caught:
        ServerSentEvent(**invalid.as_kwargs())
    assert caught.value.field == invalid.field
    assert f"{invalid.field!r}" in str(caught.value)
    assert isinstance(caught.value, ValueError)


@given(invalid=sse_st.invalid_fields())
def test_invalid_fields_in_a_mapping_are_refused_too(invalid: sse_st.InvalidField) -> None:
    with pytest.raises(InvalidEventError) as caught:
        encode(invalid.as_kwargs())
    assert caught.value.field == invalid.field


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"id": "a\0b"}, "NUL"),
        ({"id": "a\nb"}, "line break"),
        ({"event": "a\r"}, "line break"),
        ({"retry": -5}, ">= 0"),
        ({"data": "\ud83d"}, "surrogate"),
    ],
)
def test_error_messages_say_what_is_wrong(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEventError, match=message):
        ServerSentEvent(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"data": 1}, {"data": b"x"}, {"event": 1}, {"id": 7}, {"comment": []}, {"retry": "5"}],
)
def test_wrong_types_are_type_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match=next(iter(kwargs))):
        ServerSentEvent(**kwargs)


@pytest.mark.parametrize("retry", [True, False, 1.0])
def test_retry_must_be_a_real_int(retry: object) -> None:
    with pytest.raises(TypeError, match="retry"):
        ServerSentEvent(retry=retry)  # type: ignore[arg-type]


def test_enum_members_are_written_as_their_values() -> None:
    class Kind(enum.StrEnum):
        TICK = "tick"

    class Delay(enum.IntEnum):
        SHORT = 100

    event = ServerSentEvent("x", event=Kind.TICK, retry=Delay.SHORT)
    assert encode(event) == b"event: tick\ndata: x\nretry: 100\n\n"


def test_events_are_immutable() -> None:
    event = ServerSentEvent("x")
    with pytest.raises(AttributeError):
        event.data = "y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del event.data


def test_value_semantics() -> None:
    event = ServerSentEvent("x", event="e", id="1", retry=2, comment="c")
    same = ServerSentEvent("x", event="e", id="1", retry=2, comment="c")
    assert event == same
    assert hash(event) == hash(same)
    assert event != ServerSentEvent("x")
    assert len({event, same}) == 1
    assert pickle.loads(pickle.dumps(event)) == event
    assert copy.deepcopy(event) == event
    assert repr(event) == "ServerSentEvent(data='x', event='e', id='1', retry=2, comment='c')"


def test_replace_validates_the_new_value() -> None:
    event = ServerSentEvent("x", id="1")
    assert event.replace(id="2") == ServerSentEvent("x", id="2")
    with pytest.raises(InvalidEventError):
        event.replace(id="\n")
    with pytest.raises(TypeError, match="colour"):
        event.replace(colour="red")


def test_pattern_matching() -> None:
    match ServerSentEvent("x", event="tick"):
        case ServerSentEvent(data, event):
            assert (data, event) == ("x", "tick")
        case _:  # pragma: no cover
            pytest.fail("did not match")


def test_from_json() -> None:
    event = ServerSentEvent.from_json({"b": [1.5, None]}, id="9")
    assert event == ServerSentEvent('{"b":[1.5,null]}', id="9")
