"""Property-testing an event-stream encoder with sse_core's hypothesis strategies.

Run it with:  uv run python examples/core_property_test.py

One property, three encoders. `encode_with_splitlines` is the encoder people often write first: it
splits data with `str.splitlines()`. The property finds its bug within seconds and prints the
smallest stream that shows it (empty data, which it drops). `encode_with_patched_splitlines`
patches what that example showed, and the property finds the deeper bug: characters that
`str.splitlines()` breaks on and the format does not. sse_core's own `encode` passes.

Copy `check_round_trip` (or the test inside it) into your tests and give it your encoder; for an
endpoint, serve the generated events and parse what comes back over HTTP instead (docs/core.md
shows how).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from sse_core import EventParser, ServerSentEvent, encode
from sse_core import strategies as sse_st

if TYPE_CHECKING:
    from collections.abc import Callable

    Encoder = Callable[[ServerSentEvent], bytes]


def encode_with_splitlines(event: ServerSentEvent) -> bytes:
    """A deliberately broken encoder. It looks right, and passes a test on "hello".

    `str.splitlines()` breaks on characters that are not line breaks in an event stream (U+2028,
    U+0085, form feed, vertical tab...), drops a trailing line break, and returns no line at all
    for empty data: each is an event that does not arrive as it was sent.
    """
    lines: list[str] = []
    if event.comment is not None:
        lines += [f": {line}" for line in event.comment.splitlines()]
    if event.id is not None:
        lines.append(f"id: {event.id}")
    if event.event is not None:
        lines.append(f"event: {event.event}")
    if event.data is not None:
        lines += [f"data: {line}" for line in event.data.splitlines()]
    if event.retry is not None:
        lines.append(f"retry: {event.retry}")
    return "".join(f"{line}\n" for line in lines).encode() + b"\n"


def encode_with_patched_splitlines(event: ServerSentEvent) -> bytes:
    """`encode_with_splitlines` with its first counterexamples patched: empty data and a trailing
    line break now arrive. Still broken: "a\u2028b" arrives as "a\nb", "\x0b" as "".
    """
    if event.data is None:
        return encode_with_splitlines(event)
    lines = event.data.splitlines()
    if event.data == "" or event.data.endswith(("\n", "\r")):
        lines.append("")
    # Rebuild the event around data already split, then split no further.
    head = encode_with_splitlines(event.replace(data=None))[:-1]
    data_lines = "".join(f"data: {line}\n" for line in lines).encode()
    return head + data_lines + b"\n"


def check_round_trip(encoder: Encoder, *, max_examples: int = 200) -> None:
    """Check that whatever `encoder` writes, a client receives what was sent.

    Raises hypothesis's error for the smallest failing stream it finds, with a note naming the
    falsifying example. Derandomized, so that every run prints what docs/core.md shows; leave
    that out of your own tests, so that each run explores new streams.
    """

    @settings(max_examples=max_examples, database=None, derandomize=True)
    @given(events=sse_st.events_lists(), data=st.data())
    def test_round_trip(events: list[ServerSentEvent], data: st.DataObject) -> None:
        wire = b"".join(encoder(event) for event in events)
        parser = EventParser()
        # The network may cut the stream anywhere: parse it in the chunks hypothesis picks.
        chunks = data.draw(sse_st.chunkings(wire))
        received = [event for chunk in chunks for event in parser.feed(chunk)]
        expected = sse_st.dispatched_events(events)
        assert received == expected, f"received {received!r}, expected {expected!r}"

    test_round_trip()


def main() -> None:
    check_round_trip(encode)
    print("sse_core.encode: every generated stream arrived as it was sent")
    for broken in (encode_with_splitlines, encode_with_patched_splitlines):
        try:
            check_round_trip(broken)
        except AssertionError as error:
            falsifying = getattr(error, "__notes__", ["?"])[0]
            print(f"\n{broken.__name__}: hypothesis found a bug\n{falsifying}\n{error}")
        else:
            raise SystemExit(f"hypothesis found no bug in {broken.__name__}")


if __name__ == "__main__":
    main()
