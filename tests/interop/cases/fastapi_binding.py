"""The FastAPI binding's cases: items of every kind through its endpoints, by name and
generated, with the events they stand for by the binding's documented rules; and resume cases
through a typed endpoint.
"""

from __future__ import annotations

__all__ = [
    "FASTAPI_RESUME_CASES",
    "FASTAPI_TABLE",
    "RAW_TEXT",
    "compact_json",
    "core_event",
    "event_model",
    "fastapi_event",
    "fastapi_table_cases",
    "generated_fastapi_cases",
    "item",
    "item_event",
    "item_json",
    "json_payloads",
    "typed",
]

from typing import Any, Final, Literal

from hypothesis import strategies as st

from interop.cases.kinds import (
    E,
    FastAPICase,
    FastAPIEndpoint,
    ItemSpec,
    ResumeCase,
    compact_json,
    data_text,
    drawn,
    event_fields,
    item_event,
    item_json,
)
from sse_core import ServerSentEvent
from sse_core import strategies as sse_st


def item(text: str, label: str = "", *, kind: Literal["item", "dict"] = "item") -> ItemSpec:
    """An `Item` (interop_app's model: ``text`` and ``label``, both str), or with ``kind="dict"``
    its fields as a dict, which a push endpoint's `send` must validate as an `Item`."""
    return {"kind": kind, "fields": {"text": text, "label": label}}


def event_model(text: str, label: str = "", **fields: Any) -> ItemSpec:
    """``EventModel[Item]`` with the item's fields and the event's `fields` (event, id, retry,
    comment)."""
    return {"kind": "event-model", "fields": {"text": text, "label": label}, **fields}


def fastapi_event(**fields: Any) -> ItemSpec:
    """``fastapi.sse.ServerSentEvent(**fields)``."""
    return {"kind": "fastapi", **fields}


def core_event(event: ServerSentEvent) -> ItemSpec:
    """sse_core's `event` itself."""
    present = {name: value for name, value in event_fields(event).items() if value is not None}
    return {"kind": "core", **present}


RAW_TEXT: Final = object()
"""`json_payloads` for an event whose data is text, not JSON."""


def json_payloads(case: FastAPICase) -> list[object]:
    """For each event a client dispatches in `case`, in order: the value its data must
    JSON.parse() back to (an item's fields, a ``fastapi.sse`` event's ``data``), or `RAW_TEXT`."""
    payloads: list[object] = []
    for spec in case.items:
        if item_event(spec).data is None:
            continue
        if spec["kind"] in {"item", "dict", "event-model"}:
            payloads.append(spec["fields"])
        elif spec["kind"] == "fastapi" and spec.get("raw_data") is None:
            payloads.append(spec["data"])
        else:
            payloads.append(RAW_TEXT)
    return payloads


# FastAPI cases by name: (endpoint, items).
FASTAPI_TABLE: Final[dict[str, tuple[FastAPIEndpoint, tuple[ItemSpec, ...]]]] = {
    "fastapi-typed-cr-lf-crlf": (
        "typed",
        (item("a\r\nb\rc\nd\r\n\r\ne", "\n"), item("\r\n\r", "\r"), item("x\n", "\r\n")),
    ),
    "fastapi-typed-unicode-line-separators": (
        "typed",
        (item("a\u2028b\u0085c\u2029d\ve\ff", "\x1c\x1d\x1e"), item("\u2028", "\x85")),
    ),
    "fastapi-typed-nul-and-control-characters": (
        "typed",
        (item("a\0b\0", "\0"), item("\x01\x1f\x7f\t\b", "\0\0")),
    ),
    "fastapi-typed-astral-characters": (
        "typed",
        (item("\U0001f600\U0010ffff é€", "\U0001f600" * 3), item("\ufeff", "\ufeffx")),
    ),
    "fastapi-typed-leading-spaces": ("typed", (item(" a", "  b"), item(" ", "   "))),
    "fastapi-typed-json-escapes": (
        "typed",
        (item('"quoted" \\ back\\slash', "\\n is no line break"), item("</script>", "{}[],:")),
    ),
    "fastapi-typed-empty-strings": ("typed", (item(""), item("", ""))),
    "fastapi-typed-long-strings": (
        "typed",
        (
            item("x" * 300_000),
            item("é" * 100_000 + "\n" + "\U0001f600" * 50_000, "\u2028" * 20_000),
        ),
    ),
    # A generator that yields nothing: a 200 with an empty stream (open, then the end).
    "fastapi-typed-no-items": ("typed", ()),
    # A sync generator (run in a worker thread by the binding).
    "fastapi-typed-sync-generator": (
        "typed-sync",
        (item("a\r\nb", " \u2028"), item("\0\U0001f600"), item("x" * 100_000, "\n")),
    ),
    # Keep-alive pings (Stream(ping=0.03)) in the silences between items.
    "fastapi-typed-pings-between-items": (
        "typed-paced",
        (item("1"), item("two\nlines"), item("3")),
    ),
    "fastapi-event-models-ids-persist": (
        "event-models",
        (
            event_model("a", event="tick", id="1"),
            event_model("b\nc"),  # no id: the last event ID stays "1"
            event_model("d", event="tock", id="café-€-\U0001f600"),
            event_model("e", "\u2028"),  # the non-ASCII id stays
            event_model("f", id=""),  # an empty id resets it
            event_model("g"),
        ),
    ),
    "fastapi-event-models-awkward-types-and-ids": (
        "event-models",
        (
            event_model("o", event="open"),
            event_model("e", event="error"),
            event_model("m", event="message"),
            event_model("empty type", event=""),
            event_model("spaced", event=" spaced", id=" 1"),
            event_model("u", event="\u2028\x85", id="\u2029\x85"),
            event_model("nul", event="t\0", id="\ufeff"),
        ),
    ),
    "fastapi-event-models-retry-and-comments": (
        "event-models",
        (
            event_model("a", retry=1500, comment="c1\nc2\r\nc3"),
            event_model("b", comment="", id="2"),
            event_model("c", retry=0),
        ),
    ),
    "fastapi-sse-raw-data": (
        "fastapi-events",
        (
            fastapi_event(raw_data="plain\ntext"),
            fastapi_event(raw_data="a\r\nb\rc\r\n", event="raw"),
            fastapi_event(raw_data=""),
            fastapi_event(raw_data=" leading space"),
            fastapi_event(raw_data="x\n", id="r1"),
            fastapi_event(raw_data="\u2028\x85\0"),
        ),
    ),
    "fastapi-sse-json-data": (
        "fastapi-events",
        (
            fastapi_event(data={"k": "v\nw", "n": [1, None, True]}),
            fastapi_event(data="quoted\r\n", event="s"),
            fastapi_event(data=0),
            fastapi_event(data=False),
            fastapi_event(data=[]),
            fastapi_event(data=""),
            fastapi_event(data={"é": "\U0001f600", "\u2028": " "}, id="j"),
        ),
    ),
    "fastapi-sse-comments-retry-and-ids-without-data": (
        "fastapi-events",
        (
            fastapi_event(comment="c1\nc2\r\nc3"),
            fastapi_event(retry=800),
            fastapi_event(id="only-id"),
            fastapi_event(raw_data="after", event="named"),
            fastapi_event(comment="all", raw_data="x", event="e", id="i2", retry=0),
            fastapi_event(raw_data="last"),
        ),
    ),
    "fastapi-push-mixed-items": (
        "push",
        (
            item("an item\r\n"),
            item("a dict", "validated by send()", kind="dict"),
            event_model("a typed event", event="typed", id="p1"),
            core_event(E(id="p2")),
            core_event(E("text\nas it is", event="core")),
            fastapi_event(raw_data="raw\rdata", id="p3"),
            item("last"),
        ),
    ),
    # A push endpoint that returns without sending: a 200 with an empty stream.
    "fastapi-push-nothing": ("push", ()),
    # More than max_pending (64) events: send() waits for the client, and the events still
    # queued when the endpoint returns all go out before the stream ends.
    "fastapi-push-more-than-max-pending": (
        "push",
        tuple(item(f"{n}\r\n", "\u2028" * (n % 3)) for n in range(200)),
    ),
}


def typed(text: str, **fields: Any) -> ServerSentEvent:
    """An event of a FastAPI resume case's log: its data is an item's JSON, since the typed
    endpoint yields it as ``EventModel[Item]``."""
    return E(item_json({"text": text, "label": ""}), **fields)


FASTAPI_RESUME_CASES: Final = [
    # The same reconnections through the FastAPI binding: EventStream.last_event_id, typed
    # events with ids, and a 204 raised (as an HTTPException) before the first event. The
    # retry (20 ms, the default) is the stream's setting, Stream(retry=20), rather than a field
    # of the connected event: the server refuses another value.
    ResumeCase(
        "fastapi-resume-after-each-page",
        tuple(
            typed(f"item {n}\n", event="tick" if n % 2 else None, id=str(n)) for n in range(1, 6)
        ),
        page=2,
        binding="fastapi",
    ),
    ResumeCase(
        "fastapi-non-ascii-ids-round-trip",
        (
            typed("a", id="café-1"),
            typed("b", id="ü€-2"),
            typed("c", id="\U0001f600-3"),
            typed("d", id="日本-4"),
            typed("e", id="\u2028\x85-5"),
        ),
        page=1,
        binding="fastapi",
    ),
    ResumeCase(
        "fastapi-id-without-data-is-sent-back",
        (typed("a", id="1"), E(id="2"), typed("b", id="3")),
        page=2,
        binding="fastapi",
    ),
]


def fastapi_table_cases() -> list[FastAPICase]:
    return [FastAPICase(name, endpoint, items) for name, (endpoint, items) in FASTAPI_TABLE.items()]


_item_fields = st.fixed_dictionaries({"text": data_text, "label": sse_st.event_data})


_event_fields = st.fixed_dictionaries(
    {},
    optional={
        "event": sse_st.event_types,
        "id": sse_st.event_ids,
        "retry": sse_st.retries,
        "comment": sse_st.comments,
    },
)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | sse_st.event_data,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(sse_st.event_data, children, max_size=3)
    ),
    max_leaves=6,
)


_typed_items = _item_fields.map(lambda fields: {"kind": "item", "fields": fields})


_dict_items = _item_fields.map(lambda fields: {"kind": "dict", "fields": fields})


_event_models = st.builds(
    lambda fields, extra: {"kind": "event-model", "fields": fields, **extra},
    _item_fields,
    _event_fields,
)


_fastapi_payloads = st.one_of(
    st.just({}),
    data_text.map(lambda text: {"raw_data": text}),
    _json_values.filter(lambda value: value is not None).map(lambda value: {"data": value}),
)


_fastapi_events = st.builds(
    lambda payload, extra: {"kind": "fastapi", **payload, **extra},
    _fastapi_payloads,
    _event_fields,
)


_core_events = sse_st.events(data=st.none() | data_text).map(core_event)


def _fastapi_cases_of(
    endpoint: FastAPIEndpoint, items: st.SearchStrategy[ItemSpec]
) -> st.SearchStrategy[FastAPICase]:
    return st.builds(
        FastAPICase,
        name=st.just(""),
        endpoint=st.just(endpoint),
        items=st.lists(items, max_size=6).map(tuple),
    )


_fastapi_cases = st.one_of(
    _fastapi_cases_of("typed", _typed_items),
    _fastapi_cases_of("typed-sync", _typed_items),
    _fastapi_cases_of("event-models", _event_models),
    _fastapi_cases_of("fastapi-events", _fastapi_events),
    _fastapi_cases_of(
        "push", st.one_of(_typed_items, _dict_items, _event_models, _fastapi_events, _core_events)
    ),
)


def generated_fastapi_cases(count: int) -> list[FastAPICase]:
    """`count` FastAPI cases from hypothesis, the same ones on every run (see `drawn`)."""
    return [
        FastAPICase(f"fastapi-generated-{index:03d}", case.endpoint, case.items)
        for index, case in enumerate(drawn(_fastapi_cases, count))
    ]
