"""The errors sse_broadcast raises on purpose: one hierarchy, rooted in sse_core's `SSEError`."""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "BroadcastError",
    "BroadcastNotRunningError",
    "ChannelEndedError",
    "EventIdError",
    "InvalidChannelError",
]

from sse_core import SSEError


class BroadcastError(SSEError):
    """Base class of every error sse_broadcast raises on purpose."""


class InvalidChannelError(BroadcastError, ValueError):
    """A channel name that is not a non-empty string of the allowed characters and length."""


class EventIdError(BroadcastError, ValueError):
    """A published item carries its own event id.

    A broadcast assigns every event's id itself: the id is the event's position in its
    channel's history, which is what lets a reconnecting client resume from it.
    """


class ChannelEndedError(BroadcastError):
    """A publish to a channel whose run has ended (a final event was published).

    The channel takes events again once its history has expired (`ttl`): then it starts a new
    history, and ids of the old one are recognised as belonging to another history.
    """


class BroadcastNotRunningError(BroadcastError, RuntimeError):
    """The broadcast was used outside its ``async with`` block (before it, or after it)."""


class BackendUnavailableError(BroadcastError, ConnectionError):
    """The broker behind a backend cannot be reached; the message names it.

    `publish` raises it when the event could not be stored; subscribers are not told (they
    wait, and resume when the broker is back). Nothing was published when it is raised,
    unless the broker stored the event and the connection broke before it answered: a
    publisher that retries may then publish the event twice.
    """
