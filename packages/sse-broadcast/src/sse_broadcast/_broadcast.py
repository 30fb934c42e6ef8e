"""`Broadcast`: channels to publish to and subscribe to, over a backend."""

from __future__ import annotations

__all__ = ["DEFAULT_BUFFER_SIZE", "Broadcast"]

import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final, Self, get_args

import anyio.lowlevel

from sse_core import ServerSentEvent

from ._errors import BroadcastNotRunningError
from ._ids import check_channel
from ._items import event_template
from ._memory import MemoryBackend
from ._subscription import Overflow, Subscription

if TYPE_CHECKING:
    from types import TracebackType

    from ._backend import Backend

DEFAULT_BUFFER_SIZE: Final = 1000
YIELD_INTERVAL: Final = 0.005
"""Seconds a publisher that never waits may run before it gives the subscribers a turn."""


class Broadcast:
    """Named channels: publish events to one, and many subscribers get each of them, resuming
    from their ``Last-Event-ID`` with no gap and no duplicate.

    `backend` holds the channels' histories and feeds live events: a `MemoryBackend` (the
    default: this process only) or `sse_broadcast.redis.RedisBackend` (every process on one
    Redis). Run the broadcast for the application's life with ``async with``: it starts the
    backend's task, and on the way out ends every subscription.

    - `buffer_size`: live events a subscriber may have waiting before it counts as slow.
    - `overflow`: what happens to a slow subscriber. ``"end"`` (the default) ends its
      iteration once it has taken what is buffered; the client reconnects with its
      Last-Event-ID and resumes from history. ``"drop-oldest"`` drops its oldest waiting event
      for each new one and hands out a gap event in their place.
    - `gap_event_type`: the event type of gap events (see `Subscription`).

    >>> import anyio
    >>> async def main():
    ...     async with Broadcast() as broadcast:
    ...         async with broadcast.subscribe("news") as news:
    ...             event_id = await broadcast.publish("news", "hello")
    ...             event = await anext(news)
    ...             return event.data, event.id == event_id
    >>> anyio.run(main)
    ('hello', True)
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        overflow: Overflow = "end",
        gap_event_type: str = "gap",
    ) -> None:
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise ValueError(f"buffer_size must be an int >= 1, got {buffer_size!r}")
        if overflow not in get_args(Overflow):
            raise ValueError(f"overflow must be 'end' or 'drop-oldest', got {overflow!r}")
        if not isinstance(gap_event_type, str) or not gap_event_type:
            raise ValueError(f"gap_event_type must be a non-empty str, got {gap_event_type!r}")
        ServerSentEvent(event=gap_event_type)  # refuses a type with a line break
        self.backend: Backend = MemoryBackend() if backend is None else backend
        self.buffer_size = buffer_size
        self.overflow: Overflow = overflow
        self.gap_event_type = gap_event_type
        self._running = False
        self._exit_stack: AsyncExitStack | None = None
        self._subscriptions: dict[Subscription, None] = {}
        self._yield_every = max(1, buffer_size // 4)
        self._unyielded = 0
        self._yielded_at = 0.0

    def __repr__(self) -> str:
        return (
            f"Broadcast({self.backend!r}, buffer_size={self.buffer_size}, "
            f"overflow={self.overflow!r}, gap_event_type={self.gap_event_type!r})"
        )

    async def __aenter__(self) -> Self:
        if self._exit_stack is not None:
            raise RuntimeError("this broadcast is already running")
        stack = AsyncExitStack()
        await stack.enter_async_context(self.backend.running())
        self._exit_stack = stack
        self._running = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._running = False
        for subscription in list(self._subscriptions):
            subscription.stop()
        stack, self._exit_stack = self._exit_stack, None
        if stack is not None:
            await stack.aclose()

    async def publish(self, channel: str, item: Any, *, final: bool = False) -> str:
        """Publish `item` to `channel` and return the id it was given.

        `item` is what a stream could yield (a `str` of data, a `ServerSentEvent`, a dict of
        event fields, a pydantic model or another JSON-able value) without an id: the id is
        the broadcast's (`EventIdError` otherwise). It becomes one event, encoded once for
        all its subscribers.

        `final=True` ends the channel's run: subscribers' iterations end after this event
        (also when they replay it later), and publishing to the channel raises
        `ChannelEndedError` until its history expires.

        Never waits for subscribers; a publisher that never waits still gives them a turn
        after at most 5 ms of its own running (and every quarter of `buffer_size` events).
        Waiting for anything else gives them a turn too, so an event published on its own
        reaches an idle subscriber at once.

        Raises `InvalidChannelError` for a bad channel name and `BackendUnavailableError` when
        the backend's broker cannot be reached.
        """
        self.check_running()
        event_id = await self.backend.publish(
            check_channel(channel), event_template(item), final=final
        )
        # A publisher that never waits must still let the subscribers run, or their buffers
        # fill up; but a turn after every event would make each of them write every event on
        # its own. So: a turn after `YIELD_INTERVAL` of the publisher's own running, and every
        # quarter of a buffer's worth of events. Subscribers then take what came meanwhile in
        # one write, and never fall behind for want of a turn. The interval is long next to
        # one publish to many subscribers (about a millisecond for a thousand), so that a turn
        # holds several events each: waking a subscriber and writing to its socket cost far
        # more than one more event in the same write. Not cancellable: the event is published.
        self._unyielded += 1
        if (
            self._unyielded >= self._yield_every
            or time.monotonic() - self._yielded_at >= YIELD_INTERVAL
        ):
            self._unyielded = 0
            await anyio.lowlevel.cancel_shielded_checkpoint()
            # The turn is counted from when the publisher runs again: the subscribers' turn
            # (which grows with their number) is not the publisher's running time.
            self._yielded_at = time.monotonic()
        return event_id

    def subscribe(
        self, channel: str, *, last_event_id: str | None = None, from_start: bool = False
    ) -> Subscription:
        """The events of `channel` for one subscriber, as an async iterator.

        With `last_event_id` (the ``Last-Event-ID`` a client reconnects with), it first
        replays every event after that id that the channel's history holds, then goes on with
        live events. If the history no longer holds them all, or the id is not one of this
        channel's current history (another channel's, one from before a reset, or garbage), a
        gap event comes first and then live events only.

        Without it: live events only, or with `from_start` every event the history holds from
        the channel's first (the whole run so far; a gap event first if the run is longer
        than the history).

        Nothing happens until the iteration starts (or the subscription is entered with
        ``async with``): a subscription that is never used costs nothing.
        """
        return Subscription(self, check_channel(channel), last_event_id, from_start)

    # For subscriptions.

    def check_running(self) -> None:
        if not self._running:
            raise BroadcastNotRunningError(
                "the broadcast is not running: use it inside `async with broadcast:` (in a "
                "Starlette or FastAPI app, enter it in the lifespan)"
            )

    def opened(self, subscription: Subscription) -> None:
        self._subscriptions[subscription] = None
        if not self._running:
            subscription.stop()  # attached while the broadcast was stopping: end it too

    def closed(self, subscription: Subscription) -> None:
        self._subscriptions.pop(subscription, None)
