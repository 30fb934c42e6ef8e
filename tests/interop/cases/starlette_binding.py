"""The cases served by `sse_starlette_binding.EventSourceResponse`: a table of stream cases by
name, every combination of fields, 300 generated ones, and the resume cases.
"""

from __future__ import annotations

__all__ = ["RESUME_CASES", "TABLE", "field_combinations", "generated_cases", "table_cases"]

import itertools
from typing import Any, Final

from hypothesis import strategies as st

from interop.cases.kinds import (
    FORMS,
    SEPARATOR_NAMES,
    SEPARATORS,
    E,
    ResumeCase,
    StreamCase,
    data_text,
    drawn,
)
from sse_core import ServerSentEvent
from sse_core import strategies as sse_st

_stream_cases = st.builds(
    StreamCase,
    name=st.just(""),
    events=st.lists(sse_st.events(data=st.none() | data_text), max_size=8).map(tuple),
    sep=st.sampled_from(SEPARATORS),
    form=st.sampled_from(FORMS),
)


def generated_cases(count: int) -> list[StreamCase]:
    """`count` stream cases from hypothesis, the same ones on every run (see `drawn`)."""
    return [
        StreamCase(f"generated-{index:03d}", case.events, case.sep, case.form)
        for index, case in enumerate(drawn(_stream_cases, count))
    ]


# Stream cases by name; each is served once per line separator.
TABLE: Final[dict[str, tuple[ServerSentEvent, ...]]] = {
    "cr-lf-crlf-in-data": (E("a\r\nb\rc\nd\r\n\r\ne"), E("\r\n\r"), E("x\r")),
    "trailing-line-breaks-round-trip": (E("x\n"), E("\n\n"), E("\r")),
    "leading-spaces-survive": (
        E("  two spaces", event=" spaced", id=" 1"),
        E(" ", event="  ", id="  "),
        E(" a\n  b\r\n   c"),
    ),
    "empty-data-is-dispatched": (E(""), E("", event="empty", id="e"), E("\n")),
    "long-lines": (E("x" * 300_000), E("é" * 100_000 + "\n" + "\U0001f600" * 50_000)),
    "unicode-line-separators-do-not-split": (
        E("a\u2028b\u0085c\u2029d\ve\ff\x1cg\x1dh\x1ei", event="\u2028\x85", id="\u2029"),
        E("\u2028", comment="\u2028\x85"),
    ),
    "nul-in-data-and-type": (E("a\0b\0", event="t\0"), E("\0")),
    "astral-characters": (
        E("\U0001f600\U0010ffff é€", event="\U0001f600", id="\U0010ffff"),
        E("\U0001f600" * 3, comment="\U0001f600"),
    ),
    "bom-inside-the-stream-is-data": (E("\ufeffx", event="\ufefft", id="\ufeff"), E("\ufeff")),
    "colons-in-values": (E("a: b:c", event="x:y", id="1:2"), E(":"), E(": not a comment")),
    "types-named-open-error-message": (
        E("o", event="open"),
        E("e", event="error"),
        E("m", event="message"),
        E("empty type", event=""),
    ),
    "id-without-data-persists": (E("a", id="1"), E(id="2"), E("b"), E(id="3")),
    "empty-id-resets-the-last-event-id": (E("a", id="1"), E("b"), E("c", id=""), E("d")),
    "comments-are-not-events": (
        E(comment="c1\nc2\r\nc3"),
        E(comment=""),
        E("x", comment="before"),
        E(comment="data: not data"),
    ),
    "retry-is-not-an-event": (
        E(retry=0),
        E("x", retry=3000),
        E(retry=2**53 + 1),
        E("y", retry=10**12),
    ),
    "no-fields-at-all": (E(), E("after an empty block")),
}
_FIELD_VALUES: Final[dict[str, Any]] = {
    "data": "d1\nd2",
    "event": "named",
    "id": "the-id",
    "retry": 1500,
    "comment": "note",
}


def field_combinations() -> dict[str, tuple[ServerSentEvent, ...]]:
    """One case per subset of the five fields: an event with exactly those fields, then a plain
    event, whose lastEventId shows whether the first event's id took effect."""
    cases: dict[str, tuple[ServerSentEvent, ...]] = {}
    names = list(_FIELD_VALUES)
    for size in range(len(names) + 1):
        for chosen in itertools.combinations(names, size):
            fields = {name: _FIELD_VALUES[name] for name in chosen}
            label = "+".join(chosen) or "none"
            cases[f"fields-{label}"] = (E(**fields), E("after"))
    return cases


def table_cases() -> list[StreamCase]:
    """The table's stream cases, each with every separator and a rotating item form."""
    cases = []
    forms = itertools.cycle(FORMS)
    for name, events in {**TABLE, **field_combinations()}.items():
        for sep in SEPARATORS:
            cases.append(StreamCase(f"{name}-{SEPARATOR_NAMES[sep]}", events, sep, next(forms)))
    # Keep-alive pings (comments written by the response while the producer is quiet) between
    # events, with the default ping and with separators that split the ping's own line.
    for sep in SEPARATORS:
        cases.append(
            StreamCase(
                f"pings-between-events-{SEPARATOR_NAMES[sep]}",
                (E("1", id="1"), E("two\nlines"), E(id="3"), E("4")),
                sep,
                pause=0.12,
                ping=0.03,
            )
        )
    return cases


RESUME_CASES: Final = [
    # The server ends the stream after every 2 events; the client reconnects with the id of the
    # last one, and the server resumes after it, until nothing is left (204).
    ResumeCase(
        "resume-after-each-page",
        tuple(E(f"item {n}", id=str(n)) for n in range(1, 6)),
        page=2,
    ),
    # Last-Event-ID carries the id as UTF-8 bytes; the binding's last_event_id() decodes them.
    ResumeCase(
        "non-ascii-ids-round-trip",
        (
            E("a", id="café-1"),
            E("b", id="ü€-2"),
            E("c", id="\U0001f600-3"),
            E("d", id="日本-4"),
            E("e", id="\u2028\x85-5"),
        ),
        page=1,
    ),
    # An id sent without data still becomes the last event ID, and is what the client sends.
    ResumeCase("id-without-data-is-sent-back", (E("a", id="1"), E(id="2"), E("b", id="3")), page=2),
    # An empty id resets the last event ID: the client reconnects without the header (and this
    # server starts over), until max_connections.
    ResumeCase(
        "empty-id-sends-no-header",
        (E("a", id="1"), E("b", id="")),
        page=2,
        max_connections=2,
    ),
    # 204 on the second connection: the client must stop, though retry is only 20 ms (and the
    # harness watches for 300 ms more).
    ResumeCase("no-content-stops-reconnecting", (E("a", id="1"),), page=1, max_connections=1),
    # retry: 800 ms instead of the default 3 s: the client must wait at least that long.
    ResumeCase(
        "retry-sets-the-reconnection-delay",
        (E("a", id="1"), E("b", id="2")),
        page=1,
        max_connections=2,
        retry=800,
    ),
]
