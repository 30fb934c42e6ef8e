"""Server-Sent Events from aiohttp with sse_core alone: a job's progress, resumable.

Serve it with:  uv run python examples/core_aiohttp.py
Then:           curl -N http://127.0.0.1:8080/events
Resume:         curl -N -H 'Last-Event-ID: 3' http://127.0.0.1:8080/events

aiohttp's `StreamResponse` carries the bytes; sse_core writes them (`encode`) and reads the
`Last-Event-ID` header a reconnecting client sends (`last_event_id_from_header`, given the raw
header bytes). Every event has
an id, so a browser's `EventSource` that loses the connection reconnects with the id of the
last event it received, and the stream carries on after it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from sse_core import ServerSentEvent, encode, last_event_id_from_header

if TYPE_CHECKING:
    from collections.abc import Sequence

FEED = (
    ServerSentEvent("queued", event="status", id="1", retry=2000),
    ServerSentEvent.from_json({"step": "build", "progress": 0.5}, event="progress", id="2"),
    ServerSentEvent("compiling...\nlinking...\n", event="log", id="3"),
    ServerSentEvent("  café ☕, naïve résumé 🚀", event="log", id="4"),
    ServerSentEvent.from_json({"step": "build", "progress": 1.0}, event="progress", id="5"),
    ServerSentEvent("done", event="status", id="6"),
)
"""What the stream sends: every event has an id, so a client can resume after any of them."""

FEED_KEY: web.AppKey[tuple[ServerSentEvent, ...]] = web.AppKey("feed")


def events_after(feed: Sequence[ServerSentEvent], last_id: str | None) -> Sequence[ServerSentEvent]:
    """The events after the one whose id is `last_id`; all of them for an unknown id or None."""
    for index, event in enumerate(feed):
        if event.id is not None and event.id == last_id:
            return feed[index + 1 :]
    return feed


def last_event_id(request: web.Request) -> str | None:
    """The id a reconnecting client sent in ``Last-Event-ID``, or None."""
    # From the header's raw bytes: aiohttp decodes header values as UTF-8, where the `str` form
    # of last_event_id_from_header expects the latin-1 decoding most servers use.
    for name, value in request.raw_headers:
        if name.lower() == b"last-event-id":
            return last_event_id_from_header(value)
    return None


async def events(request: web.Request) -> web.StreamResponse:
    """``GET /events?interval=SECONDS``: the feed after ``Last-Event-ID``, one event at a time."""
    last_id = last_event_id(request)
    interval = float(request.query.get("interval", "0.5"))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            # nginx and some other proxies buffer responses unless told not to.
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    feed = request.app[FEED_KEY]
    for index, event in enumerate(events_after(feed, last_id)):
        if index:
            await asyncio.sleep(interval)
        # A client that went away makes write() raise ConnectionResetError, ending the handler.
        await response.write(encode(event))
    await response.write_eof()
    return response


def make_app(feed: Sequence[ServerSentEvent] = FEED) -> web.Application:
    """The application, streaming `feed` (the tests pass events of their own)."""
    app = web.Application()
    app[FEED_KEY] = tuple(feed)
    app.router.add_get("/events", events)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=8080)
