"""Independent-client cross-check: eventsource-parser@3 (Node) reads what sse_core writes.

For every stream, three answers must agree: the events computed from the inputs alone (what the
WHATWG spec says a browser dispatches), `sse_core.EventParser`'s, and eventsource-parser's, fed
the same chunks. eventsource-parser's messages are put in browser terms by the worker (see
tests/support/eventsource_parser_worker.mjs).

eventsource-parser reports each message's own `id` and forgets the id of a block that dispatches
nothing, so it never sees an id sent without data (`id: 7` then a blank line), where a browser
updates its last event ID. That is a limit of its API, not of the stream: its expected events are
computed with that rule, and everything else must match exactly.

eventsource-parser reports `retry` as a JS number, which is exact only up to 2**53: its retry is
compared with the number nearest to the expected one, as a JavaScript client would hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.oracle import expected_client_view

from sse_core import EventParser, LineTerminator, ParsedEvent, ServerSentEvent, encode_many
from sse_core import strategies as sse_st

if TYPE_CHECKING:
    from collections.abc import Sequence

    from support.node import EventSourceParserWorker, NodeParse

pytestmark = [pytest.mark.node, pytest.mark.slow]

NODE_CLIENT: Final = "eventsource-parser@3"
CORE_CLIENT: Final = "sse_core.EventParser"
TERMINATORS: Final[tuple[LineTerminator, ...]] = ("\n", "\r\n")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a client made of a stream: the events it dispatched and the last retry."""

    events: list[ParsedEvent]
    retry: int | None


def expected_outcome(
    events: Sequence[ServerSentEvent], *, ids_without_data_count: bool = True
) -> Outcome:
    """What a spec-compliant client dispatches for `encode_many(events)`, from the inputs alone.

    With `ids_without_data_count=False`, an id in an event without data is ignored, as
    eventsource-parser ignores it (see the module docstring).
    """
    view = expected_client_view(events, ids_without_data_count=ids_without_data_count)
    return Outcome(view.events, view.retry)


def as_js_number(value: int | None) -> int | None:
    """`value` as a JS number holds it: the nearest IEEE double (exact up to 2**53)."""
    return None if value is None else int(float(value))


def parse_with_sse_core(chunks: Sequence[bytes]) -> Outcome:
    parser = EventParser()
    events: list[ParsedEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return Outcome(events, parser.retry)


def parse_with_node(worker: EventSourceParserWorker, chunks: Sequence[bytes]) -> NodeParse:
    return worker.parse(chunks)


def _first_difference(got: list[ParsedEvent], want: list[ParsedEvent]) -> str:
    for index, (left, right) in enumerate(zip(got, want, strict=False)):
        if left != right:
            return f"first difference at event {index}: got {left!r}, expected {right!r}"
    if len(got) != len(want):
        return f"got {len(got)} events, expected {len(want)}"
    return "events equal; retry differs"


def check_stream(
    worker: EventSourceParserWorker,
    events: Sequence[ServerSentEvent],
    terminator: LineTerminator,
    chunks: Sequence[bytes],
    *,
    note: str = "",
) -> None:
    """Assert that both clients dispatch exactly the expected events for `chunks`.

    `chunks` must carry `encode_many(events, line_terminator=terminator)`, possibly with
    extra bytes that change nothing a client dispatches (a BOM, an unfinished last event).
    """
    expected = expected_outcome(events)
    core = parse_with_sse_core(chunks)
    node = parse_with_node(worker, chunks)
    node_outcome = Outcome(node.events, node.retry)
    # Each client against its expected outcome; the Node client holds retry as a JS number.
    node_expected = expected_outcome(events, ids_without_data_count=False)
    wants = {
        CORE_CLIENT: expected,
        NODE_CLIENT: Outcome(node_expected.events, as_js_number(node_expected.retry)),
    }
    gots = {CORE_CLIENT: core, NODE_CLIENT: node_outcome}
    wrong = [name for name in gots if gots[name] != wants[name]]
    if not wrong:
        return
    lines = [
        f"{' and '.join(wrong) or NODE_CLIENT + ' vs ' + CORE_CLIENT} disagree(s) with the "
        "expected events",
        f"case: events={list(events)!r}",
        f"      line_terminator={terminator!r}{note}",
        f"      wire={b''.join(chunks)!r}",
        f"      chunks={list(chunks)!r}",
        f"expected:                {expected!r}",
    ]
    for name in (NODE_CLIENT, CORE_CLIENT):
        verdict = "OK" if gots[name] == wants[name] else "WRONG"
        lines.append(f"{name + ':':<25}{gots[name]!r}  [{verdict}]")
        if gots[name] != wants[name]:
            lines.append(f"  {_first_difference(gots[name].events, wants[name].events)}")
    lines.append(f"{NODE_CLIENT} raw messages: {node.raw_events!r}")
    if node.errors:
        lines.append(f"{NODE_CLIENT} onError: {node.errors!r}")
    raise AssertionError("\n".join(lines))


@settings(max_examples=150, deadline=None)
@given(
    events=sse_st.events_lists(),
    terminator=st.sampled_from(TERMINATORS),
    data=st.data(),
)
def test_eventsource_parser_reads_what_the_encoder_writes(
    eventsource_parser: EventSourceParserWorker,
    events: list[ServerSentEvent],
    terminator: LineTerminator,
    data: st.DataObject,
) -> None:
    wire = encode_many(events, line_terminator=terminator)
    chunks = data.draw(sse_st.chunkings(wire), label="chunks")
    check_stream(eventsource_parser, events, terminator, chunks)


@dataclass(frozen=True, slots=True)
class Example:
    """A stream for the example table: events, plus bytes around them that dispatch nothing."""

    events: tuple[ServerSentEvent, ...]
    prefix: bytes = b""
    suffix: bytes = b""


EXAMPLES: Final = {
    "unicode-line-separators-do-not-split": Example(
        (
            ServerSentEvent(
                "a\u2028b\u0085c\u2029d\ve\ff\x1cg\x1dh\x1ei", event="\u2028\x85", id="\u2029"
            ),
        )
    ),
    "trailing-newline-round-trips": Example((ServerSentEvent("x\n"), ServerSentEvent("\n\n"))),
    "cr-and-crlf-in-data-arrive-as-lf": Example((ServerSentEvent("a\rb\r\nc\n\rd\r"),)),
    "empty-data-is-dispatched": Example(
        (
            ServerSentEvent(""),
            ServerSentEvent("", event="empty", id="e"),
        )
    ),
    "data-none-with-id-sets-the-id-for-the-next-event": Example(
        (
            ServerSentEvent(id="7"),
            ServerSentEvent("after"),
        )
    ),
    "empty-id-resets-the-last-event-id": Example(
        (
            ServerSentEvent("a", id="1"),
            ServerSentEvent("b"),
            ServerSentEvent("c", id=""),
            ServerSentEvent("d"),
        )
    ),
    "empty-event-name-means-message": Example((ServerSentEvent("a", event=""),)),
    "leading-spaces-survive": Example(
        (
            ServerSentEvent("  two spaces", event=" spaced", id=" 1"),
            ServerSentEvent(" ", event="  ", id="  "),
        )
    ),
    "astral-characters": Example(
        (
            ServerSentEvent("\U0001f600\U0010ffff é€", event="\U0001f600", id="\U0010ffff"),
            ServerSentEvent("\U0001f600" * 3, comment="\U0001f600"),
        )
    ),
    "comments-and-retry": Example(
        (
            ServerSentEvent(comment="c1\nc2\r\nc3", retry=5),
            ServerSentEvent("x", retry=3000, comment=""),
            ServerSentEvent(retry=0),
        )
    ),
    "retry-beyond-2**53": Example((ServerSentEvent("x", retry=2**53 + 1),)),
    "leading-bom-is-stripped": Example((ServerSentEvent("bom"),), prefix=b"\xef\xbb\xbf"),
    "unfinished-last-event-is-not-dispatched": Example(
        (ServerSentEvent("done", id="1"),), suffix=b"id: 2\ndata: never dispatched\n"
    ),
}


def _chunked(wire: bytes, how: Literal["whole", "bytes"]) -> list[bytes]:
    # "bytes": one byte per chunk, so every UTF-8 sequence, CRLF and BOM is split everywhere.
    if how == "whole":
        return [wire] if wire else []
    return [wire[index : index + 1] for index in range(len(wire))]


@pytest.mark.parametrize("how", ["whole", "bytes"])
@pytest.mark.parametrize("terminator", TERMINATORS, ids=["LF", "CRLF"])
@pytest.mark.parametrize("example", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_eventsource_parser_examples(
    eventsource_parser: EventSourceParserWorker,
    example: Example,
    terminator: LineTerminator,
    how: Literal["whole", "bytes"],
) -> None:
    suffix = example.suffix.replace(b"\n", terminator.encode("ascii"))
    wire = example.prefix + encode_many(example.events, line_terminator=terminator) + suffix
    note = f", prefix={example.prefix!r}, suffix={suffix!r}" if example.prefix or suffix else ""
    check_stream(eventsource_parser, example.events, terminator, _chunked(wire, how), note=note)
