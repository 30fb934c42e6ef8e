"""Clients for the deployment tests: the lockstep reader, acks and pokes, and an idle watcher.

They speak raw HTTP/1.1 (`support.http_client`) so that they see exactly what a proxy passes
on: the headers, a gzip body (decompressed here, incrementally, as a browser would), and
whether the response was completed or cut.
"""

from __future__ import annotations

__all__ = ["LockstepResult", "StreamWatch", "post", "read_lockstep", "watch_idle"]

import asyncio
import contextlib
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from support.http_client import HTTPResponse, open_request

from sse_core import EventParser, ParsedEvent
from sse_starlette_binding.testing._http import IncompleteResponse

if TYPE_CHECKING:
    from collections.abc import Sequence

TOTAL_TIMEOUT: Final = 60.0
"""No client here waits longer than this for anything (a bound, never an expectation)."""

GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


async def post(port: int, path: str) -> int:
    """POST `path` (no body) on its own connection; the status code."""
    headers = (("Content-Length", "0"), ("Connection", "close"))
    response = await open_request(port, path, method="POST", headers=headers, timeout=10)
    try:
        await asyncio.wait_for(response.read_to_end(), 10)
    finally:
        await response.aclose()
    return response.status


@dataclass
class LockstepResult:
    """What the lockstep reader saw: the headers, the events (type and data) and the status of
    each ack it sent."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    ack_statuses: list[int] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name.lower()]
        return ", ".join(values) if values else None


class _Body:
    """The response body as the events it carries, gunzipped first when it is gzip."""

    def __init__(self, response: HTTPResponse) -> None:
        self.response = response
        encoding = (response.header("content-encoding") or "").lower()
        self.inflate = zlib.decompressobj(GZIP_WBITS) if encoding == "gzip" else None
        self.parser = EventParser()
        self.received = 0
        """Body bytes (decompressed) read so far."""

    async def next_events(self) -> list[ParsedEvent] | None:
        """The events the next piece of the body completes; None once the body has ended."""
        try:
            data = await self.response.read_some()
        except (IncompleteResponse, ConnectionError):
            return None
        if not data:
            return None
        if self.inflate is not None:
            data = self.inflate.decompress(data)
        self.received += len(data)
        return self.parser.feed(data)


async def read_lockstep(
    port: int,
    run: str,
    *,
    count: int = 5,
    ack_timeout: float = 10.0,
    prefix: str = "",
    headers: Sequence[tuple[str, str]] = (),
) -> LockstepResult:
    """Read ``{prefix}/lockstep`` on `port`, acknowledging each numbered event as soon as it
    arrives (``POST /ack`` through the same port), until the stream ends or says "done",
    "stalled" or "wrong"."""
    result = LockstepResult()
    query = f"run={run}&count={count}&ack_timeout={ack_timeout}"
    request_headers = (("Accept", "text/event-stream"), *headers)
    async with asyncio.timeout(TOTAL_TIMEOUT):
        response = await open_request(port, f"{prefix}/lockstep?{query}", headers=request_headers)
        result.headers = response.headers
        body = _Body(response)
        try:
            while (events := await body.next_events()) is not None:
                for event in events:
                    result.events.append((event.event, event.data))
                    if event.event != "message":
                        return result
                    path = f"/ack?run={run}&n={event.data}"
                    result.ack_statuses.append(await post(port, path))
        finally:
            await response.aclose()
    return result


@dataclass
class StreamWatch:
    """What an idle stream did while it was watched."""

    first: list[tuple[str, str]]
    """The events before the watch began (the "open" event)."""
    while_idle: list[tuple[str, str]]
    """The events during the watch (pings are comments: none is expected)."""
    bytes_while_idle: int
    """Body bytes (pings) that arrived during the watch."""
    ended_after: float | None
    """Seconds into the watch when the response ended (cut or complete), or None if it lasted."""
    complete: bool
    """Whether the response was completed properly (rather than cut)."""
    last: list[tuple[str, str]] = field(default_factory=list)
    """The events after the watch, once the stream was poked (when it lasted)."""


async def watch_idle(port: int, run: str, *, ping: float, watch: float) -> StreamWatch:
    """Open ``/idle`` with pings every `ping` seconds (0: none), read its first event, then
    watch it for `watch` seconds; if it is still open, poke it and read on to its end."""
    async with asyncio.timeout(TOTAL_TIMEOUT):
        response = await open_request(port, f"/idle?run={run}&ping={ping}")
        body = _Body(response)
        try:
            first: list[tuple[str, str]] = []
            while not first:
                events = await body.next_events()
                assert events is not None, "the idle stream ended before its first event"
                first = [(event.event, event.data) for event in events]
            before = body.received
            while_idle, ended_after = await _watch(body, watch)
            watched = StreamWatch(
                first, while_idle, body.received - before, ended_after, response.complete
            )
            if ended_after is None:
                assert await post(port, f"/poke?run={run}") == 200
                while (events := await body.next_events()) is not None:
                    watched.last += [(event.event, event.data) for event in events]
                watched.complete = response.complete
            return watched
        finally:
            await response.aclose()


async def _watch(body: _Body, seconds: float) -> tuple[list[tuple[str, str]], float | None]:
    """Read whatever arrives for `seconds`: the events, and the seconds until the body ended
    (None if it did not)."""
    started = time.monotonic()
    seen: list[tuple[str, str]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while (events := await body.next_events()) is not None:
                seen += [(event.event, event.data) for event in events]
            return seen, time.monotonic() - started
    return seen, None


async def get_text(port: int, path: str) -> str:
    """GET `path` on its own connection; the body as text."""
    headers = (("Connection", "close"),)
    response = await open_request(port, path, headers=headers, timeout=10)
    try:
        return (await asyncio.wait_for(response.read_to_end(), 10)).decode()
    finally:
        await response.aclose()


async def flood_until_stalled(
    proxy_port: int, app_port: int, run: str, *, settle: float = 2.0
) -> int:
    """Open ``/flood`` through the proxy and read nothing; the bytes the app produced once it
    stopped producing (unchanged for `settle` seconds), that is, once back pressure reached it.

    Fails (AssertionError) if the app still produces after `TOTAL_TIMEOUT` seconds.
    """
    # A small receive window, fixed (setting it turns the kernel's autotuning off).
    response = await open_request(proxy_port, f"/flood?run={run}", rcvbuf=4096, limit=4096)
    try:
        deadline = time.monotonic() + TOTAL_TIMEOUT
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = int(await get_text(app_port, f"/produced?run={run}"))
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= settle:
                return now
            await asyncio.sleep(0.2)
        raise AssertionError(f"the app still produced after {TOTAL_TIMEOUT} s ({last} bytes)")
    finally:
        response.close()
