"""`MemoryBackend`: channels held in this process, the default backend.

Each channel keeps its last `history` events in a deque and the listeners attached to it. A
publish stores the event and hands it to every listener in the same step, so there is no
reading task and no hand-off between tasks: the event reaches each subscriber's buffer before
`publish` returns. The one task (`running`) drops histories when they expire.
"""

from __future__ import annotations

__all__ = ["MemoryBackend", "MemoryStatistics"]

import heapq
import itertools
import math
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import anyio
import anyio.lowlevel

from ._backend import Head, Record
from ._errors import ChannelEndedError
from ._ids import format_event_id, new_epoch
from ._items import with_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sse_core import ServerSentEvent

    from ._backend import Listener
    from ._ids import Position

DEFAULT_HISTORY: Final = 1000
DEFAULT_TTL: Final = 3600.0
_ZERO: Final = (0,)


@dataclass(frozen=True, slots=True)
class MemoryStatistics:
    """What a `MemoryBackend` holds right now (for metrics, and to see that it is bounded)."""

    channels: int
    """Channels with a history or a subscriber."""
    events: int
    """Events held in histories, all channels together."""
    listeners: int
    """Subscribers attached, all channels together (a slow one that was ended is not)."""


class _Channel:
    __slots__ = ("ended", "epoch", "events", "expires_at", "listeners", "number")

    def __init__(self, history: int) -> None:
        self.epoch: str | None = None
        self.events: deque[Record] = deque(maxlen=history)
        self.number = 0  # of the last event; positions are (number,)
        self.ended = False
        self.expires_at = math.inf
        # A dict as an ordered set: listeners are fed in the order they came.
        self.listeners: dict[Listener, None] = {}

    def head(self) -> Head:
        return Head(self.epoch, (self.number,), self.number, self.ended)


class MemoryBackend:
    """Channels in this process's memory: nothing to set up, gone when the process ends.

    - `history`: events kept per channel for replay (the oldest is dropped when a new one
      comes); a subscriber that resumes from an id older than that gets a gap event.
    - `ttl`: seconds a channel's history is kept after its last event (None: kept for the
      process's life). A channel with no history and no subscriber is forgotten, so memory
      holds at most `history` events for each channel published to in the last `ttl` seconds.

    Ids are ``<epoch>-<n>``: the epoch is made when a channel's history starts (first event,
    or first after it expired), `n` counts the history's events from 1.

    >>> backend = MemoryBackend(history=100, ttl=600)
    """

    position_size: Final = 1

    def __init__(self, *, history: int = DEFAULT_HISTORY, ttl: float | None = DEFAULT_TTL):
        if isinstance(history, bool) or not isinstance(history, int) or history < 1:
            raise ValueError(f"history must be an int >= 1, got {history!r}")
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0
        ):
            raise ValueError(f"ttl must be None or a number of seconds > 0, got {ttl!r}")
        self.history_size = history
        self.ttl = ttl
        self._channels: dict[str, _Channel] = {}
        # (expires_at, order, channel): when to look at a channel's expiry again. One entry
        # per channel at most (`_scheduled`); a publish pushes the expiry back without a push.
        # Times are time.monotonic(), not the event loop's clock: the backend may be run by
        # one loop after another (trio's clock has an offset of its own), and keeps its
        # histories across them.
        self._expiries: list[tuple[float, int, str]] = []
        self._scheduled: set[str] = set()
        self._order = itertools.count()
        self._wake: anyio.Event | None = None

    def __repr__(self) -> str:
        return f"MemoryBackend(history={self.history_size}, ttl={self.ttl})"

    def statistics(self, channel: str | None = None) -> MemoryStatistics:
        """What the backend holds: for one channel, or for all of them."""
        states = self._channels.values() if channel is None else [self._channels.get(channel)]
        present = [state for state in states if state is not None]
        return MemoryStatistics(
            channels=len(present),
            events=sum(len(state.events) for state in present),
            listeners=sum(len(state.listeners) for state in present),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(self._expire_forever)
            try:
                yield
            finally:
                task_group.cancel_scope.cancel()

    async def publish(self, channel: str, template: ServerSentEvent, *, final: bool) -> str:
        # A cancellation point before anything is stored; the turn for the subscribers that a
        # publisher in a tight loop owes them is the broadcast's (see `Broadcast.publish`).
        await anyio.lowlevel.checkpoint_if_cancelled()
        state = self._channel(channel)
        self._expire_if_due(channel, state, time.monotonic())
        if state.ended:
            raise ChannelEndedError(
                f"channel {channel!r} has ended (a final event was published); it takes events "
                "again when its history expires"
            )
        epoch = state.epoch
        if epoch is None:
            epoch = state.epoch = new_epoch()
        number = state.number + 1
        position = (number,)
        event = with_id(template, format_event_id(epoch, position))
        record = Record(epoch, position, number, event, final)
        state.number = number
        state.ended = final
        state.events.append(record)
        if self.ttl is not None:
            state.expires_at = time.monotonic() + self.ttl
            self._schedule(channel, state.expires_at)
        detached = [listener for listener in state.listeners if not listener.deliver(record)]
        for listener in detached:
            del state.listeners[listener]
        assert event.id is not None
        return event.id

    async def attach(self, channel: str, listener: Listener) -> Head:
        await anyio.lowlevel.checkpoint()
        state = self._channel(channel)
        self._expire_if_due(channel, state, time.monotonic())
        state.listeners[listener] = None
        return state.head()

    def detach(self, channel: str, listener: Listener) -> None:
        state = self._channels.get(channel)
        if state is not None:
            state.listeners.pop(listener, None)
            self._forget_if_unused(channel, state)

    async def history(
        self, channel: str, epoch: str, after: Position, upto: Position
    ) -> list[Record] | None:
        # Read at once, then yield: called right after `attach`, this reads the history as it
        # was at the head, so a publisher cannot trim it in between (for a broker, it can).
        records = self._read(channel, epoch, after, upto)
        await anyio.lowlevel.cancel_shielded_checkpoint()
        return records

    def _read(
        self, channel: str, epoch: str, after: Position, upto: Position
    ) -> list[Record] | None:
        state = self._channels.get(channel)
        if state is None or state.epoch != epoch:
            return None
        events = state.events
        # Numbers are consecutive, so the first wanted event's index follows from the oldest
        # one's number; the history covers `after` iff it still holds the event after it.
        oldest = events[0].number
        if after[0] + 1 < oldest:
            return None
        start, stop = after[0] + 1 - oldest, upto[0] + 1 - oldest
        return list(itertools.islice(events, max(start, 0), max(stop, 0)))

    # Channel state and expiry.

    def _channel(self, channel: str) -> _Channel:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel(self.history_size)
        return state

    def _forget_if_unused(self, channel: str, state: _Channel) -> None:
        if state.epoch is None and not state.listeners:
            del self._channels[channel]

    def _expire_if_due(self, channel: str, state: _Channel, now: float) -> None:
        if state.epoch is not None and state.expires_at <= now:
            # The history starts afresh: its ids now belong to a history that is gone.
            state.epoch = None
            state.events.clear()
            state.number = 0
            state.ended = False
            state.expires_at = math.inf

    def _schedule(self, channel: str, when: float) -> None:
        if channel in self._scheduled:
            return  # the sweeper finds the later expiry when it looks at this entry
        self._scheduled.add(channel)
        heapq.heappush(self._expiries, (when, next(self._order), channel))
        if self._wake is not None and self._expiries[0][2] == channel:
            self._wake.set()

    async def _expire_forever(self) -> None:
        expiries = self._expiries
        while True:
            now = time.monotonic()
            while expiries and expiries[0][0] <= now:
                _, _, channel = heapq.heappop(expiries)
                self._scheduled.discard(channel)
                state = self._channels.get(channel)
                if state is None:
                    continue
                if state.expires_at > now and state.expires_at != math.inf:
                    self._schedule(channel, state.expires_at)  # published to since: later
                    continue
                self._expire_if_due(channel, state, now)
                self._forget_if_unused(channel, state)
            self._wake = anyio.Event()
            try:
                with anyio.move_on_after(expiries[0][0] - now if expiries else math.inf):
                    await self._wake.wait()
            finally:
                # Also when cancelled (the broadcast stops): an event of this loop must not
                # be set from the next loop that runs the backend.
                self._wake = None
