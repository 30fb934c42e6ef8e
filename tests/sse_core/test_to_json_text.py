"""`to_json_text`: the JSON text sse_core writes as an event's data, public."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import sse_core
from sse_core import InvalidEventError, ServerSentEvent, encode, to_json_text


def test_it_is_public() -> None:
    assert "to_json_text" in sse_core.__all__


class Tick(BaseModel):
    n: int
    label: str


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"text": "café", "n": [1, 2.5, None]}, '{"text":"café","n":[1,2.5,null]}'),
        ("quoted", '"quoted"'),
        (7, "7"),
        (None, "null"),
        (Tick(n=1, label="é"), '{"n":1,"label":"é"}'),
    ],
)
def test_json_text_is_compact_and_not_ascii_escaped(value: object, text: str) -> None:
    assert to_json_text(value) == text


# Not text at the top: `encode` writes text data as it is.
json_values = st.recursive(st.none() | st.integers() | st.text(), st.lists, max_leaves=8)


@given(value=st.lists(json_values) | st.dictionaries(st.text(), json_values))
def test_json_text_is_the_data_encode_writes(value: object) -> None:
    assert ServerSentEvent.from_json(value).data == to_json_text(value)
    assert encode({"data": value}) == encode(to_json_text(value))


@pytest.mark.parametrize("value", [math.nan, math.inf, [-math.inf]])
def test_json_text_refuses_what_json_cannot_carry(value: object) -> None:
    with pytest.raises(InvalidEventError) as caught:
        to_json_text(value)
    assert caught.value.field == "data"


def test_json_text_uses_the_serializer_given() -> None:
    def dumps(value: object) -> bytes:
        return b'{"by":"me"}'

    assert to_json_text({"n": 1}, json_dumps=dumps) == '{"by":"me"}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        to_json_text(object())
