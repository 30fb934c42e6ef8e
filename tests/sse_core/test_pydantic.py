"""`sse_core.pydantic.EventModel`: typed data, validated and serialized by pydantic."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from sse_core import EventParser, ParsedEvent, ServerSentEvent, encode
from sse_core.pydantic import EventModel


class Tick(BaseModel):
    n: int
    label: str = "é"


def test_data_is_validated_and_serialized_by_pydantic() -> None:
    model = EventModel[Tick](data={"n": "3"}, event="tick", id="3")  # type: ignore[arg-type]
    wire = encode(model)
    assert wire == 'id: 3\nevent: tick\ndata: {"n":3,"label":"é"}\n\n'.encode()
    assert EventParser().feed(wire) == [ParsedEvent("tick", '{"n":3,"label":"é"}', "3")]


def test_text_data_is_written_as_text() -> None:
    assert encode(EventModel[str](data="a\nb")) == b"data: a\ndata: b\n\n"
    assert EventModel[str](data="x").to_server_sent_event() == ServerSentEvent("x")


def test_invalid_data_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="n"):
        EventModel[Tick](data={"n": "three"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "named"),
    [({"id": "a\nb"}, "'id'"), ({"event": "x\r"}, "'event'"), ({"retry": -1}, "retry")],
)
def test_wire_rules_apply_to_the_other_fields(fields: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        EventModel[int].model_validate({"data": 1, **fields})


def test_retry_must_be_an_int() -> None:
    with pytest.raises(ValidationError, match="retry"):
        EventModel[int].model_validate({"data": 1, "retry": "5"})


def test_json_schema_describes_data() -> None:
    schema = EventModel[Tick].data_json_schema()
    assert schema["$ref"] == "#/$defs/Tick"
    assert schema["$defs"]["Tick"]["required"] == ["n"]
    list_schema = EventModel[list[int]].data_json_schema()
    assert (list_schema["type"], list_schema["items"]) == ("array", {"type": "integer"})
