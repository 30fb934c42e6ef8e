"""The reading side every client shares: a response's status, headers and parsed events."""

from __future__ import annotations

__all__ = ["DEFAULT_TIMEOUT", "EventStreamReader"]

from abc import ABC, abstractmethod
from collections import deque
from typing import TYPE_CHECKING, Final, NoReturn

import anyio
from starlette.datastructures import Headers

from sse_core import EventParser, ParsedEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Self

DEFAULT_TIMEOUT: Final = 5.0
"""Seconds any one wait of these clients may take, unless told otherwise."""


def _count(n: int) -> str:
    return "1 event" if n == 1 else f"{n} events"


class EventStreamReader(ABC):
    """One event-stream response being read; what `client.stream()` and `open_event_stream`
    give inside their ``async with`` block.

    `status` and `headers` (a case-insensitive `starlette.datastructures.Headers`) are set on
    entry. `events()` and `collect()` read events; `raw` holds the body bytes received so far,
    `complete` tells whether the server finished the response, and `last_event_id` and `retry`
    hold what a browser would reconnect with.
    """

    status: int
    """The response's status code."""
    headers: Headers
    """The response's headers."""

    def __init__(self) -> None:
        self.status = 0
        self.headers = Headers()
        self._parser = EventParser()
        self._chunks: list[bytes] = []
        self._ready: deque[ParsedEvent] = deque()
        self._ended = False
        self._response_complete = False

    @property
    def raw(self) -> bytes:
        """The body bytes received so far, exactly as they came (after any transfer coding
        was removed), whether or not they have been read as events yet."""
        return b"".join(self._chunks)

    @property
    def complete(self) -> bool:
        """Whether the server completed the response (rather than it being cut, or still
        going)."""
        return self._response_complete

    @property
    def last_event_id(self) -> str:
        """The last event ID of the events read so far: what a browser sends in
        ``Last-Event-ID`` when it reconnects."""
        return self._parser.last_event_id

    @property
    def retry(self) -> int | None:
        """The last valid ``retry`` the stream sent (milliseconds), or None."""
        return self._parser.retry

    def events(
        self,
        *,
        max_events: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stop_at_timeout: bool = False,
    ) -> AsyncIterator[ParsedEvent]:
        """Iterate over the stream's events.

        The iteration ends when `max_events` events were yielded or when the server ends the
        response. `timeout` is a total deadline in seconds, counted from the first step of the
        iteration: if it passes first, `TimeoutError` is raised (its message says how many
        events arrived), unless `stop_at_timeout` is true, in which case the iteration just
        ends there ("whatever arrives within `timeout` seconds").

        Events left over (a body message may complete several) are kept for the next call.
        Stopping the iteration does not disconnect; leaving the stream's ``async with`` does.
        """
        if max_events is not None and (isinstance(max_events, bool) or max_events < 0):
            raise ValueError(f"max_events must be None or an int >= 0, got {max_events!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        return _EventIterator(self, max_events, timeout, stop_at_timeout)

    async def collect(
        self,
        *,
        max_events: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stop_at_timeout: bool = False,
    ) -> list[ParsedEvent]:
        """The events `events()` yields with the same arguments, as a list."""
        iterator = self.events(
            max_events=max_events, timeout=timeout, stop_at_timeout=stop_at_timeout
        )
        return [event async for event in iterator]

    @abstractmethod
    async def _next_body_chunk(self) -> bytes | None:
        """The next non-empty piece of the body, or None once the body has ended."""

    async def _read_more(self) -> None:
        """Wait for the next piece of the body and parse it; must be cancel-safe."""
        chunk = await self._next_body_chunk()
        if chunk is None:
            self._ended = True
            self._parser.close()
            return
        self._chunks.append(chunk)
        self._ready.extend(self._parser.feed(chunk))


class _EventIterator:
    """`EventStreamReader.events()`: a plain async iterator (not an async generator), so abandoning
    it early leaves nothing to finalize."""

    def __init__(
        self,
        stream: EventStreamReader,
        max_events: int | None,
        timeout: float,
        stop_at_timeout: bool,
    ) -> None:
        self._stream = stream
        self._max_events = max_events
        self._timeout = timeout
        self._stop_at_timeout = stop_at_timeout
        self._deadline: float | None = None
        self._count = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ParsedEvent:
        stream = self._stream
        if self._max_events is not None and self._count >= self._max_events:
            raise StopAsyncIteration
        if self._deadline is None:
            self._deadline = anyio.current_time() + self._timeout
        while not stream._ready:
            if stream._ended:
                raise StopAsyncIteration
            with anyio.move_on_after(self._deadline - anyio.current_time()) as scope:
                await stream._read_more()
            if scope.cancelled_caught:
                self._timed_out()
        self._count += 1
        return stream._ready.popleft()

    def _timed_out(self) -> NoReturn:
        # Only while the deadline holds: a later call must time out again, not wait afresh.
        if self._stop_at_timeout:
            raise StopAsyncIteration
        if self._max_events is None:
            message = (
                f"the event stream did not end within {self._timeout} seconds; "
                f"{_count(self._count)} arrived"
            )
        else:
            message = (
                f"{self._count} of {_count(self._max_events)} arrived "
                f"within {self._timeout} seconds"
            )
        raise TimeoutError(message)
