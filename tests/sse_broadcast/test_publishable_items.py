"""What may be published, and the one event (without an id yet) each item becomes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from sse_broadcast import EventIdError
from sse_broadcast._items import event_template, with_id
from sse_core import InvalidEventError, ServerSentEvent, encode


class Token(BaseModel):
    text: str


class Typed:
    def to_server_sent_event(self) -> ServerSentEvent:
        return ServerSentEvent("typed", event="model")


class TypedWithId:
    def to_server_sent_event(self) -> ServerSentEvent:
        return ServerSentEvent("typed", id="7")


class Liar:
    def to_server_sent_event(self) -> str:
        return "not an event"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("hello", ServerSentEvent("hello")),
        ("", ServerSentEvent("")),
        ("a\nb", ServerSentEvent("a\nb")),
        (ServerSentEvent("x", event="e", retry=5), ServerSentEvent("x", event="e", retry=5)),
        (ServerSentEvent(comment="c"), ServerSentEvent(comment="c")),
        ({"data": "text", "event": "t"}, ServerSentEvent("text", event="t")),
        ({"data": {"n": 1}}, ServerSentEvent('{"n":1}')),
        ({"data": [1, 2], "retry": 3}, ServerSentEvent("[1,2]", retry=3)),
        ({"event": "ping"}, ServerSentEvent(event="ping")),
        ([1, "two"], ServerSentEvent('[1,"two"]')),
        (42, ServerSentEvent("42")),
        (Token(text="Hi"), ServerSentEvent('{"text":"Hi"}')),
        (Typed(), ServerSentEvent("typed", event="model")),
    ],
)
def test_items_become_one_event_without_an_id(item: Any, expected: ServerSentEvent) -> None:
    assert event_template(item) == expected


def test_the_id_is_added_once_and_the_bytes_are_the_cores() -> None:
    template = event_template({"event": "token", "data": "Hi"})
    event = with_id(template, "0123456789ab-1")
    assert event == ServerSentEvent("Hi", event="token", id="0123456789ab-1")
    assert event.wire == encode(event) == b"id: 0123456789ab-1\nevent: token\ndata: Hi\n\n"


@pytest.mark.parametrize(
    "item",
    [
        ServerSentEvent("x", id="1"),
        ServerSentEvent("x", id=""),
        {"data": "x", "id": "1"},
        {"id": None},
        TypedWithId(),
    ],
)
def test_items_with_their_own_id_are_refused(item: Any) -> None:
    with pytest.raises(EventIdError, match="assigns ids itself") as caught:
        event_template(item)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("item", [b"data: x\n\n", bytearray(b"x"), memoryview(b"x")])
def test_encoded_bytes_are_refused(item: Any) -> None:
    with pytest.raises(TypeError, match="already-encoded bytes"):
        event_template(item)


def test_none_and_unknown_fields_and_liars_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot publish None"):
        event_template(None)
    with pytest.raises(TypeError, match=r"unknown event field\(s\) \['ids'\]"):
        event_template({"data": "x", "ids": "1"})
    # A dict is a mapping of event fields, as sse_core takes it: JSON data goes under "data".
    with pytest.raises(TypeError, match=r"unknown event field\(s\) \['n'\]"):
        event_template({"n": 1})
    with pytest.raises(TypeError, match="not a ServerSentEvent"):
        event_template(Liar())


def test_invalid_fields_are_refused_by_the_core() -> None:
    with pytest.raises(InvalidEventError, match="'event'"):
        event_template({"data": "x", "event": "a\nb"})
    with pytest.raises(InvalidEventError, match="'data'"):
        event_template(float("nan"))
