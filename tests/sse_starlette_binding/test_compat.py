"""The compatibility surface writes sse-starlette's bytes for valid input, and differs only
where sse-starlette is wrong (each difference is listed in docs/migrating-from-sse-starlette.md).

sse-starlette 3.7 itself is the oracle: it is installed next to the tests (the workspace's
bench group), and every comparison runs its code on the same input.
"""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import pytest
import sse_starlette
from hypothesis import given
from hypothesis import strategies as st
from sse_starlette.event import ensure_bytes

import sse_core
from sse_core import InvalidEventError
from sse_core.strategies import (
    InvalidField,
    comments,
    event_data,
    event_ids,
    event_types,
    invalid_fields,
    retries,
)
from sse_starlette_binding import EventSourceResponse, JSONServerSentEvent, ServerSentEvent

OPTIONAL_FIELDS = {
    "event": st.none() | event_types,
    "id": st.none() | event_ids,
    "retry": st.none() | retries,
    "comment": st.none() | comments,
}
SEPARATORS = st.sampled_from(["\r\n", "\n", "\r"])
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(data=st.none() | event_data, sep=SEPARATORS, fields=st.fixed_dictionaries(OPTIONAL_FIELDS))
def test_server_sent_event_writes_sse_starlettes_bytes(
    data: str | None, sep: str, fields: dict[str, Any]
) -> None:
    ours = ServerSentEvent(data, sep=sep, **fields).encode()
    theirs = sse_starlette.ServerSentEvent(data, sep=sep, **fields).encode()
    assert ours == theirs


@given(
    value=JSON_VALUES.filter(lambda v: v is not None), fields=st.fixed_dictionaries(OPTIONAL_FIELDS)
)
def test_json_server_sent_event_writes_sse_starlettes_bytes(
    value: Any, fields: dict[str, Any]
) -> None:
    ours = JSONServerSentEvent(value, **fields).encode()
    theirs = sse_starlette.JSONServerSentEvent(value, **fields).encode()
    assert ours == theirs


@given(data=event_data, sep=SEPARATORS, fields=st.fixed_dictionaries(OPTIONAL_FIELDS))
def test_a_dict_item_is_written_as_sse_starlette_writes_it(
    data: str, sep: str, fields: dict[str, Any]
) -> None:
    item = {"data": data, **{name: value for name, value in fields.items() if value is not None}}
    ours = EventSourceResponse(iter(()), sep=sep).encode_item(item)
    theirs = ensure_bytes(item, sep)
    assert ours == theirs


@pytest.mark.parametrize("item", ["text", "multi\nline\r\nbreaks", 42, 1.5, b"data: raw\r\n\r\n"])
def test_plain_items_are_written_as_sse_starlette_writes_them(item: Any) -> None:
    ours = EventSourceResponse(iter(())).encode_item(item)
    assert ours == ensure_bytes(item, "\r\n")


def test_default_separator_and_ping_interval_match_sse_starlette() -> None:
    theirs = sse_starlette.EventSourceResponse
    assert EventSourceResponse.DEFAULT_SEPARATOR == theirs.DEFAULT_SEPARATOR
    assert EventSourceResponse.DEFAULT_PING_INTERVAL == theirs.DEFAULT_PING_INTERVAL
    assert EventSourceResponse.DEFAULT_CLEANUP_TIMEOUT == theirs.DEFAULT_CLEANUP_TIMEOUT
    assert ServerSentEvent.DEFAULT_SEPARATOR == sse_starlette.ServerSentEvent.DEFAULT_SEPARATOR


def test_the_default_ping_has_sse_starlettes_shape() -> None:
    ping = EventSourceResponse(iter(())).ping_bytes()
    assert ping.startswith(b": ping - ")
    assert ping.endswith(b"+00:00\r\n\r\n")


# Where sse-starlette is wrong, and what happens instead.


@pytest.mark.parametrize("field", ["id", "event"])
@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\r\nb"])
def test_a_line_break_in_id_or_event_is_refused_not_stripped(field: str, value: str) -> None:
    fields: dict[str, Any] = {field: value}
    stripped = sse_starlette.ServerSentEvent("x", **fields).encode()
    assert b"ab" in stripped  # sse-starlette glues the lines together without a word
    with pytest.raises(InvalidEventError, match=f"invalid '{field}' field"):
        ServerSentEvent("x", **fields)


def test_a_nul_in_an_id_is_refused() -> None:
    with pytest.raises(InvalidEventError, match="invalid 'id' field"):
        ServerSentEvent("x", id="a\0b")


@pytest.mark.parametrize(
    ("data", "theirs", "ours"),
    [
        ({"a": 1}, b"data: {'a': 1}\r\n\r\n", b'data: {"a":1}\r\n\r\n'),
        ([True, None], b"data: [True, None]\r\n\r\n", b"data: [true,null]\r\n\r\n"),
        (True, b"data: True\r\n\r\n", b"data: true\r\n\r\n"),
    ],
)
def test_data_that_is_not_text_or_a_number_is_written_as_json(
    data: Any, theirs: bytes, ours: bytes
) -> None:
    assert sse_starlette.ServerSentEvent(data).encode() == theirs
    assert ServerSentEvent(data).encode() == ours


def test_a_dict_items_data_is_json_not_a_python_repr() -> None:
    item = {"event": "e", "data": {"n": [1, 2]}}
    assert ensure_bytes(item, "\r\n").endswith(b"data: {'n': [1, 2]}\r\n\r\n")
    assert (
        EventSourceResponse(iter(())).encode_item(item) == b'event: e\r\ndata: {"n":[1,2]}\r\n\r\n'
    )


def test_a_none_item_is_refused_rather_than_sent_as_the_text_none() -> None:
    assert ensure_bytes(None, "\r\n") == b"data: None\r\n\r\n"
    with pytest.raises(TypeError, match="cannot encode None"):
        EventSourceResponse(iter(())).encode_item(None)


def test_json_refuses_nan_like_sse_starlette() -> None:
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        sse_starlette.JSONServerSentEvent(math.nan).encode()
    with pytest.raises(InvalidEventError):
        JSONServerSentEvent(math.nan)


def test_invalid_values_are_reported_where_the_event_is_built() -> None:
    with pytest.raises(TypeError, match="retry"):
        ServerSentEvent("x", retry="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sep must be one of"):
        ServerSentEvent("x", sep="\n\n")


def test_fields_stay_assignable_and_the_bytes_follow() -> None:
    event = ServerSentEvent("before", id="1")
    event.data = "after"
    event.id = "2"
    assert event.encode() == b"id: 2\r\ndata: after\r\n\r\n"
    assert repr(event) == "ServerSentEvent(data='after', id='2')"
    event.id = "x\ny"
    with pytest.raises(InvalidEventError, match="invalid 'id' field"):
        event.encode()


# Assignment after construction: the bytes follow every assignment, and an invalid value is
# refused at the latest when the event is encoded or sent.

FIELD_VALUES = st.fixed_dictionaries({"data": st.none() | event_data, **OPTIONAL_FIELDS})


@given(before=FIELD_VALUES, after=FIELD_VALUES, sep=SEPARATORS)
def test_assigned_fields_are_written_as_sse_starlette_writes_them(
    before: dict[str, Any], after: dict[str, Any], sep: str
) -> None:
    ours = ServerSentEvent(**before, sep=sep)
    theirs = sse_starlette.ServerSentEvent(**before, sep=sep)
    ours.encode()  # the bytes of `before` are kept, then must not be reused
    for name, value in after.items():
        setattr(ours, name, value)
        setattr(theirs, name, value)
    assert ours.encode() == theirs.encode()
    assert EventSourceResponse(iter(()), sep=sep).encode_item(ours) == theirs.encode()
    assert ours.to_server_sent_event() == sse_core.ServerSentEvent(**after)


def test_every_assignment_is_seen_even_of_an_equal_value_or_the_same_object() -> None:
    event = ServerSentEvent(1)
    assert event.encode() == b"data: 1\r\n\r\n"
    event.data = 1.0  # equal to 1, written differently
    assert event.encode() == b"data: 1.0\r\n\r\n"
    event.data = True  # equal to 1 as well, and JSON
    assert event.encode() == b"data: true\r\n\r\n"
    payload = {"n": 1}
    event.data = payload
    assert event.encode() == b'data: {"n":1}\r\n\r\n'
    payload["n"] = 2
    event.data = payload  # the same object, changed in place: assigned again, written again
    assert event.encode() == b'data: {"n":2}\r\n\r\n'
    payload["n"] = 3
    event.id = "7"  # any assignment writes the event again
    assert event.encode() == b'id: 7\r\ndata: {"n":3}\r\n\r\n'


def test_json_data_changed_in_place_is_sent_as_it_was_like_sse_starlette() -> None:
    payload = {"n": 1}
    ours, theirs = JSONServerSentEvent(payload), sse_starlette.JSONServerSentEvent(payload)
    payload["n"] = 2
    assert ours.encode() == theirs.encode() == b'data: {"n":1}\r\n\r\n'


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("id", "a\nb", InvalidEventError),
        ("id", "a\0b", InvalidEventError),
        ("event", "a\rb", InvalidEventError),
        ("retry", -1, InvalidEventError),
        ("retry", "5", TypeError),
        ("retry", True, TypeError),
        ("comment", 5, TypeError),
        ("data", "lone \ud800", InvalidEventError),
        ("data", [math.nan], InvalidEventError),  # not JSON
    ],
)
def test_an_invalid_assigned_value_is_refused_when_the_event_is_encoded_or_sent(
    field: str, value: Any, error: type[Exception]
) -> None:
    event = ServerSentEvent("x", id="1")
    setattr(event, field, value)  # accepted, as sse-starlette accepts it
    with pytest.raises(error):
        event.encode()
    with pytest.raises(error):
        EventSourceResponse(iter(())).encode_item(event)
    with pytest.raises(error):
        event.to_server_sent_event()
    with pytest.raises(error):
        event.encode()  # still refused: nothing invalid was kept
    setattr(event, field, None)
    assert event.encode().endswith(b"\r\n\r\n")


@pytest.mark.parametrize("value", [math.inf, math.nan, -0.0, 10**30])
def test_an_assigned_number_is_written_with_str_as_in_sse_starlette(value: float) -> None:
    ours, theirs = ServerSentEvent("x"), sse_starlette.ServerSentEvent("x")
    ours.data = theirs.data = value
    assert ours.encode() == theirs.encode()


@given(invalid=invalid_fields())
def test_every_invalid_value_is_refused_where_the_event_is_built(invalid: InvalidField) -> None:
    with pytest.raises(InvalidEventError) as caught:
        ServerSentEvent(**invalid.as_kwargs())
    assert caught.value.field == invalid.field


def test_a_deleted_field_fails_when_encoded_as_in_sse_starlette() -> None:
    ours, theirs = ServerSentEvent("x", id="1"), sse_starlette.ServerSentEvent("x", id="1")
    del ours.id
    del theirs.id
    with pytest.raises(AttributeError):
        theirs.encode()
    with pytest.raises(AttributeError):
        ours.encode()


def test_any_attribute_may_be_set_as_on_sse_starlettes_events() -> None:
    ours, theirs = ServerSentEvent("x"), sse_starlette.ServerSentEvent("x")
    events: tuple[Any, ...] = (ours, theirs)
    for event in events:
        event.trace_id = "t-1"
    assert [event.trace_id for event in events] == ["t-1", "t-1"]
    assert ours.encode() == theirs.encode()


def subclasses(base: type[Any]) -> tuple[type[Any], type[Any], type[Any]]:
    """Three user subclasses of `base` (sse-starlette's class or ours), written the same way."""

    class Progress(base):  # type: ignore[misc]
        DEFAULT_SEPARATOR = "\n"

        def __init__(self, done: int, total: int) -> None:
            super().__init__(f"{done}/{total}", event="progress")
            self.done = done
            if done == total:
                self.event = "done"  # assigned after the base built the event

    class Slotted(base):  # type: ignore[misc]
        __slots__ = ("extra",)

        def __init__(self, text: str) -> None:
            super().__init__(text, id="s1")
            self.extra = text.upper()

    class Typed(base):  # type: ignore[misc]
        def __init__(self, text: str, **fields: Any) -> None:
            super().__init__(text, event=type(self).__name__.lower(), **fields)

    return Progress, Slotted, Typed


@pytest.mark.parametrize("sep", [None, "\r"])
def test_user_subclasses_work_as_they_do_with_sse_starlette(sep: str | None) -> None:
    ours = subclasses(ServerSentEvent)
    theirs = subclasses(sse_starlette.ServerSentEvent)
    built = [
        (ours[0](3, 4), theirs[0](3, 4)),
        (ours[0](4, 4), theirs[0](4, 4)),
        (ours[1]("a\nb"), theirs[1]("a\nb")),
        (ours[2]("x", retry=5, sep=sep), theirs[2]("x", retry=5, sep=sep)),
    ]
    for our_event, their_event in built:
        assert our_event.encode() == their_event.encode()
        assert (
            repr(our_event).partition("(")[2]
            == repr(
                ServerSentEvent(
                    their_event.data,
                    event=their_event.event,
                    id=their_event.id,
                    retry=their_event.retry,
                    comment=their_event.comment,
                )
            ).partition("(")[2]
        )
    assert built[1][0].event == "done"
    assert built[1][0].done == built[1][1].done == 4
    assert built[2][0].extra == built[2][1].extra == "A\nB"


def test_a_subclass_with_an_invalid_default_separator_is_refused_when_built() -> None:
    class Broken(ServerSentEvent):
        DEFAULT_SEPARATOR = "\n\n"

    with pytest.raises(ValueError, match="sep must be one of"):
        Broken("x")


@pytest.mark.parametrize(
    "event",
    [
        ServerSentEvent("x\ny", event="e", id="1", retry=5, comment="c", sep="\n"),
        JSONServerSentEvent({"n": [1, 2]}, id="2"),
    ],
    ids=repr,
)
def test_events_survive_copy_and_pickle(event: ServerSentEvent) -> None:
    for twin in (copy.copy(event), copy.deepcopy(event), pickle.loads(pickle.dumps(event))):
        assert type(twin) is type(event)
        assert twin.encode() == event.encode()
        assert repr(twin) == repr(event)
        assert twin.sep == event.sep
    twin = copy.copy(event)
    twin.id = "changed"
    assert b"id: changed" in twin.encode()
    assert b"id: changed" not in event.encode()


def test_to_server_sent_event_is_the_same_event() -> None:
    assert ServerSentEvent(1.5, event="e").to_server_sent_event() == sse_core.ServerSentEvent(
        "1.5", event="e"
    )
    assert JSONServerSentEvent("text").to_server_sent_event() == sse_core.ServerSentEvent('"text"')
    assert ServerSentEvent({"a": None}).to_server_sent_event().data == '{"a":null}'
    assert ServerSentEvent(comment="c").to_server_sent_event().wire == b": c\n\n"


def test_the_core_encoder_sends_a_compatible_event_with_its_own_line_terminator() -> None:
    event = ServerSentEvent("a\nb", id="1", sep="\r")
    assert sse_core.encode(event) == b"id: 1\ndata: a\ndata: b\n\n"
    encoder = sse_core.EventEncoder(line_terminator="\r\n")
    assert encoder.encode(event) == b"id: 1\r\ndata: a\r\ndata: b\r\n\r\n"
    assert event.encode() == b"id: 1\rdata: a\rdata: b\r\r"
