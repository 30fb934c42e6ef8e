"""Reading an event stream from a real server on loopback, as a client would, with sse_core's
parser: the raw bytes and the events, so a test compares both with what the example sent."""

from __future__ import annotations

__all__ = ["Received", "receive"]

import asyncio
from dataclasses import dataclass

from support.http_client import open_request

from sse_core import EventParser, ParsedEvent


@dataclass
class Received:
    """One response: its head, the body's bytes so far, the events they complete, and the last
    event ID a client would reconnect with."""

    status: int
    content_type: str | None
    wire: bytes
    events: list[ParsedEvent]
    last_event_id: str
    complete: bool


async def receive(
    port: int,
    path: str,
    *,
    last_event_id: str | None = None,
    stop_after: int | None = None,
    timeout: float = 10.0,
) -> Received:
    """GET `path` on 127.0.0.1:`port` and read the stream to its end, or until `stop_after`
    events arrived (then leave, as a client whose connection dropped).

    `last_event_id` goes out in ``Last-Event-ID`` as UTF-8 bytes, as browsers send it.
    """
    headers = [("Accept", "text/event-stream")]
    if last_event_id is not None:
        # open_request writes header values as latin-1: this sends the id's UTF-8 bytes.
        headers.append(("Last-Event-ID", last_event_id.encode().decode("latin-1")))
    parser = EventParser(last_event_id=last_event_id or "")
    wire = bytearray()
    events: list[ParsedEvent] = []
    response = await open_request(port, path, headers=headers, timeout=timeout)
    try:
        async with asyncio.timeout(timeout):
            while stop_after is None or len(events) < stop_after:
                chunk = await response.read_some()
                if not chunk:
                    break
                wire += chunk
                events += parser.feed(chunk)
    finally:
        await response.aclose()
    return Received(
        response.status,
        response.header("content-type"),
        bytes(wire),
        events,
        parser.last_event_id,
        response.complete,
    )
