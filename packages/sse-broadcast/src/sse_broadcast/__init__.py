"""sse_broadcast: resumable Server-Sent Events fan-out.

Publish events to named channels; every subscriber gets each event, with an id, and a client
that reconnects with its ``Last-Event-ID`` gets exactly what it missed (or a gap event saying
that history no longer holds it). Channels live in this process (`MemoryBackend`, the default)
or on Redis Streams (`sse_broadcast.redis.RedisBackend`, imported only when you import it).

>>> import anyio
>>> async def main():
...     async with Broadcast() as broadcast:
...         first = await broadcast.publish("runs/1", "Hello")
...         await broadcast.publish("runs/1", {"event": "done", "data": ""}, final=True)
...         # A client that saw the first event and reconnects gets the rest, then the end.
...         resumed = broadcast.subscribe("runs/1", last_event_id=first)
...         return [event.event async for event in resumed]
>>> anyio.run(main)
['done']

A subscription is an async iterator of `sse_core.ServerSentEvent`, which every binding's
response takes as it is: ``EventSourceResponse(broadcast.subscribe(channel, ...))``.
"""

from ._backend import Backend, Head, Listener, Record
from ._broadcast import DEFAULT_BUFFER_SIZE, Broadcast
from ._errors import (
    BackendUnavailableError,
    BroadcastError,
    BroadcastNotRunningError,
    ChannelEndedError,
    EventIdError,
    InvalidChannelError,
)
from ._ids import CHANNEL_MAX_LENGTH, Position, check_channel, format_event_id, parse_event_id
from ._memory import MemoryBackend, MemoryStatistics
from ._subscription import Overflow, Subscription

__all__ = [
    "CHANNEL_MAX_LENGTH",
    "DEFAULT_BUFFER_SIZE",
    "Backend",
    "BackendUnavailableError",
    "Broadcast",
    "BroadcastError",
    "BroadcastNotRunningError",
    "ChannelEndedError",
    "EventIdError",
    "Head",
    "InvalidChannelError",
    "Listener",
    "MemoryBackend",
    "MemoryStatistics",
    "Overflow",
    "Position",
    "Record",
    "Subscription",
    "check_channel",
    "format_event_id",
    "parse_event_id",
]

__version__ = "0.1.0"
