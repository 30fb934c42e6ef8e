"""The compatibility surface writes sse-starlette's bytes for valid input, and differs only
where sse-starlette is wrong (each difference is listed in docs/migrating-from-sse-starlette.md).

sse-starlette 3.7 itself is the oracle: it is installed next to the tests (the workspace's
bench group), and every comparison runs its code on the same input.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import sse_starlette
from hypothesis import given
from hypothesis import strategies as st
from sse_starlette.event import ensure_bytes

from sse_core import InvalidEventError
from sse_core.strategies import comments, event_data, event_ids, event_types, retries
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
