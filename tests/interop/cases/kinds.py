"""What an interop case is: a stream of events, a resumable stream, or a FastAPI endpoint's
items; and the strategies the generated cases are drawn from.
"""

from __future__ import annotations

__all__ = [
    "END_EVENT",
    "END_TYPE",
    "FORMS",
    "SEPARATORS",
    "SEPARATOR_NAMES",
    "Binding",
    "Case",
    "CaseT",
    "E",
    "FastAPICase",
    "FastAPIEndpoint",
    "Form",
    "ItemSpec",
    "ResumeCase",
    "StreamCase",
    "compact_json",
    "data_text",
    "drawn",
    "event_fields",
    "item_event",
    "item_json",
    "long_lines",
]

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

from sse_core import LineTerminator, ServerSentEvent
from sse_core import strategies as sse_st

if TYPE_CHECKING:
    from collections.abc import Iterator

CaseT = TypeVar("CaseT")
END_TYPE: Final = "interop-end"
END_EVENT: Final = ServerSentEvent("end", event=END_TYPE)
"""What the server sends after a stream case's events (see interop_app.py)."""
Form: TypeAlias = Literal["core", "dict", "compat", "str"]
Binding: TypeAlias = Literal["starlette", "fastapi"]
FastAPIEndpoint: TypeAlias = Literal[
    "typed", "typed-sync", "typed-paced", "event-models", "fastapi-events", "push"
]
"""The FastAPI endpoints of interop_app.py that serve a `FastAPICase`."""
ItemSpec: TypeAlias = dict[str, Any]
"""One item of a `FastAPICase` as JSON: its ``kind`` (``item``, ``dict``, ``event-model``,
``fastapi`` or ``core``) and its fields; interop_app.fastapi_item says what each kind is."""
SEPARATORS: Final[tuple[LineTerminator, ...]] = ("\r\n", "\n", "\r")
SEPARATOR_NAMES: Final = {"\r\n": "crlf", "\n": "lf", "\r": "cr"}
FORMS: Final[tuple[Form, ...]] = ("core", "dict", "compat", "str")


@dataclass(frozen=True, slots=True)
class StreamCase:
    """A stream: `events` served as `form` items with separator `sep`, then the end event.

    `pause` seconds pass between events and `ping` is the keep-alive interval (0: no pings)."""

    name: str
    events: tuple[ServerSentEvent, ...]
    sep: LineTerminator = "\r\n"
    form: Form = "core"
    pause: float = 0.0
    ping: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The case as interop_app.py reads it."""
        return {
            "kind": "stream",
            "name": self.name,
            "events": [event_fields(event) for event in self.events],
            "sep": self.sep,
            "form": self.form,
            "pause": self.pause,
            "ping": self.ping,
        }

    def describe(self) -> str:
        return f"events={list(self.events)!r}, sep={self.sep!r}, form={self.form!r}" + (
            f", pause={self.pause}, ping={self.ping}" if self.pause or self.ping else ""
        )


@dataclass(frozen=True, slots=True)
class ResumeCase:
    """A resumable stream over the event `log`: `page` events per connection, every connection
    starting with a ``connected`` event carrying ``retry: <retry>``; 204 once the log is
    exhausted or after `max_connections` connections."""

    name: str
    log: tuple[ServerSentEvent, ...]
    page: int
    max_connections: int = 10
    retry: int = 20
    binding: Binding = "starlette"
    """Which binding serves it. Through FastAPI, a typed endpoint yields the log's events as
    ``EventModel[Item]``, so their data must be an item's JSON (see `typed`)."""

    def to_json(self) -> dict[str, Any]:
        """The case as interop_app.py reads it."""
        return {
            "kind": "resume",
            "name": self.name,
            "log": [event_fields(event) for event in self.log],
            "page": self.page,
            "max_connections": self.max_connections,
            "retry": self.retry,
            "binding": self.binding,
        }

    def describe(self) -> str:
        return (
            f"log={list(self.log)!r}, page={self.page}, max_connections="
            f"{self.max_connections}, retry={self.retry}, binding={self.binding!r}"
        )


@dataclass(frozen=True, slots=True)
class FastAPICase:
    """A stream from the FastAPI binding: `endpoint` yields (or, for ``push``, sends) `items`,
    then the response ends. No end-of-case event follows: a typed endpoint yields its items and
    nothing else, so the client's last entry is the error that says the stream ended."""

    name: str
    endpoint: FastAPIEndpoint
    items: tuple[ItemSpec, ...]

    @property
    def events(self) -> tuple[ServerSentEvent, ...]:
        """The events the items stand for, from which what a client receives is computed."""
        return tuple(map(item_event, self.items))

    def to_json(self) -> dict[str, Any]:
        """The case as interop_app.py reads it, with the event types the harness listens for
        (the server cannot tell them without the test's model of the items)."""
        dispatched = (event for event in self.events if event.data is not None)
        return {
            "kind": "fastapi-stream",
            "name": self.name,
            "endpoint": self.endpoint,
            "items": list(self.items),
            "types": sorted({event.event or "message" for event in dispatched}),
        }

    def describe(self) -> str:
        return f"endpoint={self.endpoint!r}, items={list(self.items)!r}"


Case: TypeAlias = StreamCase | ResumeCase | FastAPICase


def event_fields(event: ServerSentEvent) -> dict[str, Any]:
    """An event's fields as JSON (None for an absent field)."""
    return {
        "data": event.data,
        "event": event.event,
        "id": event.id,
        "retry": event.retry,
        "comment": event.comment,
    }


# Lines of 1,000 to 20,000 characters (a multi-byte one is up to 80 KB on the wire): longer than
# any buffer a client reads with, so lines arrive cut across reads.
long_lines = st.builds(
    lambda character, count: character * count,
    st.sampled_from(("x", " ", "é", "\u2028", "\U0001f600")),
    st.integers(min_value=1_000, max_value=20_000),
)


data_text = st.one_of(
    sse_st.event_data,
    sse_st.event_data,
    st.lists(st.one_of(sse_st.event_data, long_lines), min_size=1, max_size=3).map("".join),
)


def drawn(strategy: st.SearchStrategy[CaseT], count: int) -> list[CaseT]:
    """`count` examples of `strategy`, the same ones on every run.

    They are what one `@given` run generates, collected rather than checked: the browser must
    get every case in one page load, so they cannot be drawn one test at a time. With
    ``derandomize=True`` (and no example database) the run is a pure function of the strategy,
    and the generate phase alone runs: there is nothing to shrink. Almost: Hypothesis also
    mixes in constants it finds in the project's modules loaded at the time, which depend on
    the tests that ran before (an example loaded by one, say); `_without_local_constants`
    takes them out, so the draw is the same whatever ran first.
    """
    found: list[CaseT] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: CaseT) -> None:
        found.append(case)

    with _without_local_constants():
        collect()
    return found[:count]


@contextmanager
def _without_local_constants() -> Iterator[None]:
    # Hypothesis has no setting for this: its private hook is replaced for the draw, and the
    # cache of constants it computed from it emptied before and after. If a Hypothesis release
    # renames them, this fails here, loudly, rather than letting the draw drift.
    original = providers._get_local_constants
    empty = Constants()
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        providers.CONSTANTS_CACHE.cache.clear()


E = ServerSentEvent


def compact_json(value: object) -> str:
    """`value` as compact JSON, non-ASCII characters as they are.

    This is what the binding's pydantic writes for an `Item` (str fields only) and for the
    JSON-able data of a ``fastapi.sse`` event, the same text for every code point
    (`test_compact_json_is_what_pydantic_writes`), computed here without pydantic, so the
    binding's serialization is checked too."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


_EVENT_FIELDS: Final = ("event", "id", "retry", "comment")


def item_json(fields: dict[str, str]) -> str:
    """An item's JSON as pydantic writes it: the model's fields in the model's order."""
    return compact_json({"text": fields["text"], "label": fields["label"]})


def item_event(spec: ItemSpec) -> ServerSentEvent:
    """The event an item stands for, by the rules docs/fastapi.md gives ("What an endpoint may
    yield"): an item, or a dict that validates as one, is an event whose data is its JSON;
    ``EventModel[Item]`` is that data with the model's own event fields; a ``fastapi.sse``
    event sends ``raw_data`` as it is and ``data`` as JSON; sse_core's event is itself."""
    kind = spec["kind"]
    fields = {name: spec.get(name) for name in _EVENT_FIELDS}
    if kind in {"item", "dict"}:
        return E(item_json(spec["fields"]))
    if kind == "event-model":
        return E(item_json(spec["fields"]), **fields)
    if kind == "fastapi":
        data = spec.get("raw_data")
        if data is None and spec.get("data") is not None:
            data = compact_json(spec["data"])
        return E(data, **fields)
    assert kind == "core", kind
    return E(spec.get("data"), **fields)
