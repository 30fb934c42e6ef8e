"""A Server-Sent Events client in a few lines: the standard library's HTTP client and sse_core's
parser, which reads the stream exactly as a browser's `EventSource` does.

Run it against one of the servers in this folder, such as examples/core_aiohttp.py:
    uv run python examples/core_client.py http://127.0.0.1:8080/events
"""

from __future__ import annotations

import sys
import urllib.request
from typing import TYPE_CHECKING

from sse_core import EventParser, ParsedEvent

if TYPE_CHECKING:
    from collections.abc import Iterator


def read_events(
    url: str, *, last_event_id: str = "", timeout: float = 30.0
) -> Iterator[ParsedEvent]:
    """Yield the events of the stream at `url` as they arrive, until it ends.

    To resume after a drop, pass the `id` of the last event received as `last_event_id`.
    """
    request = urllib.request.Request(url, headers={"Accept": "text/event-stream"})
    if last_event_id:
        # http.client writes header values as latin-1: this sends the id's UTF-8 bytes.
        request.add_header("Last-Event-ID", last_event_id.encode().decode("latin-1"))
    parser = EventParser(last_event_id=last_event_id)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        # read1() returns what has arrived (at least one byte) instead of waiting for 64 KiB.
        while chunk := response.read1(65536):
            yield from parser.feed(chunk)


if __name__ == "__main__":
    for event in read_events(sys.argv[1]):
        print(f"{event.event} (id {event.id!r}): {event.data!r}")
