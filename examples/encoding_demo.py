"""A tour of sse_core: encode the items an endpoint yields, then read them back as a browser would.

Run it with:  python3 -m pip install -q uv && python3 -m uv run python examples/encoding_demo.py
"""

from __future__ import annotations

from sse_core import EventParser, InvalidEventError, ServerSentEvent, encode_many


def main() -> None:
    items = [
        "plain text becomes the data",
        ServerSentEvent("two lines\r\nand CR\rline breaks", event="update", id="1", retry=2500),
        {"event": "json", "data": {"user": "ada", "scores": [1, 2.5]}},
        ServerSentEvent(comment="comments keep proxies awake; clients ignore them"),
        ServerSentEvent("  leading spaces and a trailing newline\n", id="café-2"),
        ServerSentEvent(id="3"),  # no data: nothing is dispatched, but the id takes effect
        "data after the id",
    ]
    wire = encode_many(items)
    print("On the wire:\n")
    for line in wire.decode().split("\n"):
        print(f"    {line}")

    # Feed the stream back in awkward chunks, as a network might deliver it: 7 bytes at a time
    # splits fields, CRLFs and the UTF-8 bytes of "é" alike.
    parser = EventParser()
    received = []
    for start in range(0, len(wire), 7):
        received += parser.feed(wire[start : start + 7])
    print("What a browser's EventSource receives:\n")
    for event in received:
        print(f"    type={event.event!r:10} lastEventId={event.id!r:10} data={event.data!r}")
    print(f"\n    reconnect after {parser.retry} ms with Last-Event-ID: {parser.last_event_id!r}\n")

    print("What the encoder refuses, instead of silently mangling:\n")
    for fields in ({"id": "1\ndata: injected"}, {"event": "a\rb"}, {"retry": -1}):
        try:
            ServerSentEvent("x", **fields)
        except InvalidEventError as error:
            print(f"    {fields!r:36} -> {error}")


if __name__ == "__main__":
    main()
