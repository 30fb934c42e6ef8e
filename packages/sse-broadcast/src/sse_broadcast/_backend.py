"""The interface between a `Broadcast` and where its channels' events live.

A backend stores each channel's bounded history, assigns event ids, and feeds the events
published to a channel (by this process or, for a broker, by any) to the listeners attached to
it here. Everything else (replay, the seam between history and live events, gap events,
slow subscribers) is the broadcast's, the same for every backend.
"""

from __future__ import annotations

__all__ = ["Backend", "Head", "Listener", "Record"]

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sse_core import ServerSentEvent

    from ._ids import Position


@dataclass(frozen=True, slots=True)
class Record:
    """One event of a channel's history, as the backend stored it."""

    epoch: str
    """The history it belongs to."""
    position: Position
    """Its place in that history: greater than every earlier event's."""
    number: int
    """How many events the history had with it: 1 for the first, then one more each time."""
    event: ServerSentEvent
    """The event, with its id (the epoch and the position); built once, shared by all."""
    final: bool
    """Whether it ends the channel's run: a subscriber's iteration ends after it."""


@dataclass(frozen=True, slots=True)
class Head:
    """Where a channel's history stood when a listener was attached to it."""

    epoch: str | None
    """The current history, or None when the channel has none (nothing published, or its
    history expired)."""
    position: Position
    """The last event's position, or the backend's zero position when there is none."""
    number: int
    """The last event's `Record.number`, or 0."""
    ended: bool
    """Whether the last event was final."""


class Listener(Protocol):
    """What a backend feeds a channel's live events to (a subscription)."""

    def deliver(self, record: Record) -> bool:
        """Take one live event, without waiting; return False to be detached at once."""
        ...


class Backend(Protocol):
    """Where a broadcast's channels live: in this process, or in a broker shared by many.

    Live events reach a listener in the order of their positions. `attach` returns the head
    that the listener's live events come after: every event published later reaches it, and
    no event at or before the head does (a backend may deliver one twice; the broadcast drops
    what it already has), which is what makes the seam between replay and live events exact.
    """

    @property
    def position_size(self) -> int:
        """How many numbers a position (and so an id, after its epoch) has."""
        ...

    def running(self) -> AbstractAsyncContextManager[None]:
        """Runs the backend's own task (at most one per process) for the block's duration."""
        ...

    async def publish(self, channel: str, template: ServerSentEvent, *, final: bool) -> str:
        """Store `template` (a validated event without an id) as the channel's next event,
        feed it to the channel's listeners, and return the id it was given.

        Raises `ChannelEndedError` when the channel's last event was final, and
        `BackendUnavailableError` when the event could not be stored.
        """
        ...

    async def attach(self, channel: str, listener: Listener) -> Head:
        """Feed the channel's live events to `listener` from now on; return the head they
        come after."""
        ...

    def detach(self, channel: str, listener: Listener) -> None:
        """Stop feeding `listener` (it may have been detached already)."""
        ...

    async def history(
        self, channel: str, epoch: str, after: Position, upto: Position
    ) -> list[Record] | None:
        """The events of history `epoch` after position `after` up to `upto` included,
        oldest first; or None when the channel's history is no longer `epoch`, or no longer
        holds every one of them (older events were dropped to bound it).

        `after` may be the zero position: then the history must still hold its first event.
        """
        ...
