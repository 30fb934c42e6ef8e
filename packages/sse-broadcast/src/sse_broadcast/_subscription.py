"""`Subscription`: one subscriber's events, replayed then live, with no gap and no duplicate.

The seam: the subscription is attached to the channel's live events first, and the backend
says after which position (the head) they come; then the history is read after the client's
id up to that head. Live events that arrive meanwhile wait in the buffer; any at or before the
last event handed out is dropped when it comes up (`_accept`), so an event published while
the history is read is handed out once, whichever way it came.

Slow subscribers: live events wait in a buffer of `buffer_size`. When it is full, policy
"end" stops taking events and ends the iteration once the buffer is drained (the client
reconnects with its Last-Event-ID and resumes from history), and "drop-oldest" drops the
oldest buffered event and puts a gap event in its place. Either way the publisher never waits.
"""

from __future__ import annotations

__all__ = ["Hub", "Overflow", "Subscription"]

import asyncio
import json
from collections import deque
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

import anyio

from sse_core import ServerSentEvent

from ._backend import Record
from ._ids import format_event_id, parse_event_id

if TYPE_CHECKING:
    from types import TracebackType

    from ._backend import Backend
    from ._ids import Position

Overflow = Literal["end", "drop-oldest"]
"""What happens to a subscriber whose buffer is full: see `Broadcast`."""


class Hub(Protocol):
    """What a subscription needs of the broadcast that made it (a `Broadcast`): its backend
    and settings, and to be told when the subscription opens and closes."""

    @property
    def backend(self) -> Backend: ...
    @property
    def buffer_size(self) -> int: ...
    @property
    def overflow(self) -> Overflow: ...
    @property
    def gap_event_type(self) -> str: ...

    def check_running(self) -> None:
        """Raise `BroadcastNotRunningError` unless the broadcast is running."""

    def opened(self, subscription: Subscription) -> None:
        """`subscription` is attached: stop it when the broadcast stops."""

    def closed(self, subscription: Subscription) -> None:
        """`subscription` is closed: forget it."""


_NEW, _STARTING, _RUNNING, _CLOSED = range(4)


def _asyncio_loop() -> asyncio.AbstractEventLoop | Literal[False]:
    """The running asyncio loop if this task is an asyncio task, else False (trio, including
    trio in guest mode on an asyncio loop, where no asyncio task is running)."""
    try:
        if asyncio.current_task() is not None:
            return asyncio.get_running_loop()
    except RuntimeError:  # no asyncio loop in this thread
        pass
    return False


class Subscription:
    """The events of one channel for one subscriber: an async iterator of `ServerSentEvent`.

    Made by `Broadcast.subscribe`. Every event has its id. The iteration ends after a final
    event, when the subscriber fell too far behind (policy "end"), when the broadcast stops,
    or when `aclose` is called; it never raises for any of these.

    Give it to a response as it is, ``EventSourceResponse(subscription)``: the response calls
    `aclose` when the stream ends, which detaches the subscriber. It is also an async context
    manager: entering it attaches the subscriber at once (events published after that are
    sure to reach it), leaving it closes it.
    """

    def __init__(
        self,
        broadcast: Hub,
        channel: str,
        last_event_id: str | None,
        from_start: bool,
    ) -> None:
        self.channel = channel
        """The channel's name."""
        self.last_event_id = last_event_id
        """The id the subscriber resumes after, as it was given."""
        self.from_start = from_start
        self._broadcast = broadcast
        self._backend = broadcast.backend
        self._state = _NEW
        # Gap events and replayed records: handed out before the live buffer.
        self._pending: deque[Record | ServerSentEvent] = deque()
        self._live: deque[Record] = deque()
        # What the iterating task waits on while nothing is ready: see `_wait`.
        self._waiter: asyncio.Future[None] | anyio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | Literal[False] | None = None  # None: not known
        # The last event handed out (or the head the subscriber joined at): what comes next
        # must be later in this epoch, or start a new one (a gap, unless nothing came before).
        self._epoch: str | None = None
        self._position: Position = ()
        self._number: int | None = 0  # None: unknown (resumed from an id), so not checked
        self._last_dropped: Record | None = None  # drop-oldest: the last dropped, and how many
        self._dropped_count = 0
        self._ending = False  # no more live events: end once the buffers are drained

    def __repr__(self) -> str:
        return (
            f"<Subscription channel={self.channel!r} last_event_id={self.last_event_id!r} "
            f"buffered={len(self._pending) + len(self._live)}>"
        )

    # The iterator.

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ServerSentEvent:
        if self._state != _RUNNING:
            if self._state == _NEW:
                await self._start()
            if self._state == _CLOSED:
                raise StopAsyncIteration
        while True:
            # Events that are ready are returned without awaiting anything: a response that
            # steps this iterator sees them ready and writes them together.
            event = self._next_ready()
            if event is not None:
                return event
            if self._ending or self._state != _RUNNING:
                self._close()
                raise StopAsyncIteration
            if self._waiter is not None:
                raise RuntimeError("another task is already iterating this subscription")
            # A subscriber waits once per wake-up, so this wait is on the hot path of every
            # fan-out: on asyncio, a bare future of the running loop is much cheaper than an
            # `anyio.Event` (whose constructor looks the backend up each time; benchmarks/
            # fanout.py, docs/performance.md "Fan-out"), and anyio's cancel scopes cancel it
            # alike (they cancel the future the task awaits).
            loop = self._loop
            if loop is None:
                loop = self._loop = _asyncio_loop()
            try:
                if loop:
                    waiter = self._waiter = loop.create_future()
                    await waiter
                else:
                    wake_up = self._waiter = anyio.Event()
                    await wake_up.wait()
            finally:
                self._waiter = None

    def receive_nowait(self) -> ServerSentEvent:
        """The next event if it is ready, without waiting, as anyio's memory object streams
        hand over theirs: raises `anyio.WouldBlock` when none is ready (or the subscription
        has not started), and `anyio.EndOfStream` when the iteration has ended. A response
        uses it to write the events a subscriber holds together, in one message."""
        if self._state == _RUNNING:
            event = self._next_ready()
            if event is not None:
                return event
            if not self._ending:
                raise anyio.WouldBlock
        elif self._state != _CLOSED:
            raise anyio.WouldBlock
        raise anyio.EndOfStream

    def _next_ready(self) -> ServerSentEvent | None:
        """The next event that is ready to hand out (gap events and replayed records first,
        then live ones), or None."""
        pending, live = self._pending, self._live
        while True:
            if pending:
                item = pending.popleft()
                if type(item) is not Record:
                    assert isinstance(item, ServerSentEvent)
                    return item
                event = self._accept(item)
            elif live:
                if self._dropped_count:
                    return self._overflow_gap()
                event = self._accept(live.popleft())
            else:
                return None
            if event is not None:
                return event

    async def aclose(self) -> None:
        """Detach the subscriber and end the iteration (what a response does when its stream
        ends). Safe to call more than once."""
        self._close()

    async def __aenter__(self) -> Self:
        if self._state == _NEW:
            await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close()

    # What the backend and the broadcast call.

    def deliver(self, record: Record) -> bool:
        """Take one live event (called by the backend, never waits); False: detach me."""
        if self._ending:
            return False
        live = self._live
        if len(live) >= self._broadcast.buffer_size:
            if self._broadcast.overflow == "end":
                # Stop here; the client resumes from history after what it received.
                self._ending = True
                self._wake()
                return False
            self._last_dropped = live.popleft()
            self._dropped_count += 1
        live.append(record)
        if record.final:
            self._ending = True  # nothing comes after a final event
        self._wake()
        return not record.final

    def stop(self) -> None:
        """End the iteration once what is buffered is handed out (the broadcast stops)."""
        self._ending = True
        self._wake()

    # Inside.

    async def _start(self) -> None:
        broadcast = self._broadcast
        broadcast.check_running()
        self._state = _STARTING
        backend = self._backend
        try:
            head = await backend.attach(self.channel, self)
            if self._state == _CLOSED:
                # Closed while it was being attached: its detach came first, undo the attach.
                backend.detach(self.channel, self)
                return
            broadcast.opened(self)
            self._epoch, self._position, self._number = head.epoch, head.position, head.number
            asked = self.last_event_id
            if asked is None and not self.from_start:
                pass  # live events only
            elif asked is None:
                # From the start; with no history (epoch None) there is nothing to replay.
                if head.epoch is not None:
                    await self._replay(head.epoch, self._zero(), head.position)
            else:
                parsed = parse_event_id(asked, backend.position_size)
                if parsed is None or parsed[0] != head.epoch or parsed[1] > head.position:
                    # Another channel's id, another history's (the channel's was reset or
                    # expired), or not one of ours: it names no position here.
                    self._gap_at_head("unknown", head.epoch, head.position)
                else:
                    await self._replay(parsed[0], parsed[1], head.position)
        except BaseException:
            self._close()
            raise
        if self._state == _STARTING:
            self._state = _RUNNING
        if head.ended:
            # The run ended before the subscriber came: nothing comes after what is pending
            # (the replay, which ends with the final event, or a gap event, or nothing).
            self._ending = True

    async def _replay(self, epoch: str, after: Position, upto: Position) -> None:
        if after == upto:
            return  # nothing was published since
        records = await self._backend.history(self.channel, epoch, after, upto)
        if records is None:
            # History no longer holds everything after `after`: say so, and go on live.
            self._gap_at_head("expired", epoch, upto)
            return
        self._position = after
        # From the zero position the first event is number 1; after an id, its number is not
        # known here (a position need not count events), so the first replayed one sets it.
        self._number = 0 if not any(after) else None
        self._pending.extend(records)

    def _gap_at_head(self, reason: str, epoch: str | None, head: Position) -> None:
        # The gap event moves the client's Last-Event-ID to the head, so that a reconnect
        # resumes after it instead of reporting the same gap again. With no history there is
        # no position to give: no id then (a reconnect is told again, never silently skips).
        event_id = None if epoch is None else format_event_id(epoch, head)
        self._pending.appendleft(self._gap_event(reason, event_id))

    def _overflow_gap(self) -> ServerSentEvent:
        last = self._last_dropped
        assert last is not None
        count, self._dropped_count, self._last_dropped = self._dropped_count, 0, None
        self._epoch, self._position, self._number = last.epoch, last.position, last.number
        return self._gap_event("overflow", last.event.id, dropped=count)

    def _gap_event(self, reason: str, event_id: str | None, **extra: Any) -> ServerSentEvent:
        data = {"reason": reason, "last_event_id": self.last_event_id, **extra}
        return ServerSentEvent(
            json.dumps(data, separators=(",", ":")),
            event=self._broadcast.gap_event_type,
            id=event_id,
        )

    def _accept(self, record: Record) -> ServerSentEvent | None:
        """The event to hand out for `record` (a gap event first, when one is due), or None
        when it was already handed out."""
        if record.epoch == self._epoch:
            if record.position <= self._position:
                return None  # replayed already: the seam's duplicate
            number = self._number
            if number is not None and record.number != number + 1:
                self._number = record.number - 1
                self._pending.appendleft(record)
                if record.number > number:
                    # Events in between never reached this process (a reader that fell
                    # behind the broker's bounded history): say so before going on.
                    return self._gap_event("lost", None, dropped=record.number - number - 1)
                # Numbers went back in the same history: the broker lost its newest events
                # (restored from an older snapshot), and counts again from there.
                return self._gap_event("reset", None)
        elif self._epoch is not None:
            # The channel's history was reset (its broker flushed or restarted, or it expired)
            # while we followed it: events of the old one may be lost.
            self._epoch, self._position, self._number = record.epoch, (), record.number - 1
            self._pending.appendleft(record)
            event_id = format_event_id(record.epoch, self._zero()) if record.number == 1 else None
            return self._gap_event("reset", event_id)
        self._epoch, self._position, self._number = record.epoch, record.position, record.number
        if record.final:
            self._ending = True
        return record.event

    def _zero(self) -> Position:
        return (0,) * self._backend.position_size

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not isinstance(waiter, asyncio.Future):
                waiter.set()
            elif not waiter.done():  # done: its wait was cancelled
                waiter.set_result(None)

    def _close(self) -> None:
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        self._ending = True
        self._pending.clear()
        self._live.clear()
        self._backend.detach(self.channel, self)
        self._broadcast.closed(self)
        self._wake()
