"""`RedisBackend`: channels on Redis Streams, shared by every process that uses the same Redis.

``pip install "sse-broadcast[redis]"``. Importing `sse_broadcast` never imports redis-py; this
module does.

Each channel is a stream (`_redis_entries` says what an entry holds). A publish is one script
call: it reads the history's epoch from the stream's last entry (or starts a new history), adds
the event with a bounded ``MAXLEN ~``, and sets the stream's expiry. Every process has ONE
reading task, whatever its number of subscribers: a blocking ``XREAD`` over the streams of the
channels that have subscribers here, which fans each entry out to them (the event is built once
per process). The reader learns of a newly subscribed channel through a wake-up stream of its
own, which the same ``XREAD`` waits on: the subscribing task adds an entry to it, and the read
returns at once, even if the entry was added before the read began (cancelling a blocking read
instead would cost a reconnect: redis-py drops a connection whose command was cancelled).

When Redis cannot be reached, `publish` raises `BackendUnavailableError` and the reader retries
with a bounded backoff; its subscribers wait. Once Redis answers again the reader first checks
each channel's history: if it was lost (an epoch changed, say a restart without persistence) it
reads the new history from its start, and subscribers get a ``reset`` gap event before its
events; otherwise they go on from where they were.
"""

from __future__ import annotations

__all__ = ["RedisBackend"]

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import anyio
import anyio.lowlevel
import redis.asyncio
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._backend import Head
from ._errors import BackendUnavailableError, ChannelEndedError
from ._ids import new_epoch
from ._redis_entries import (
    ENDED_ERROR,
    PUBLISH_SCRIPT,
    entry_fields,
    entry_record,
    parse_stream_id,
    stream_id,
    text,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sse_core import ServerSentEvent

    from ._backend import Listener, Record
    from ._ids import Position

logger = logging.getLogger("sse_broadcast")

_Entries: TypeAlias = "list[tuple[bytes | str, dict[bytes | str, bytes | str]]]"
"""What XRANGE and XREVRANGE answer, and XREAD for each stream (redis-py types them loosely)."""

DEFAULT_HISTORY: Final = 1000
DEFAULT_TTL: Final = 3600.0
_ZERO: Final = (0, 0)
_UNAVAILABLE: Final = (RedisConnectionError, RedisTimeoutError, OSError)
_READ_COUNT: Final = 1000  # entries per stream and read: one reply stays small
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 2.0
_WAKE_TTL_MS: Final = 3_600_000  # a dead process's wake-up stream goes away by itself


def _under_asyncio() -> bool:
    # An asyncio loop runs this thread under asyncio, and none under trio.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Feed:
    """A channel this process reads, for the listeners attached here."""

    __slots__ = ("ended", "epoch", "listeners", "number", "position", "ready")

    def __init__(self) -> None:
        self.listeners: dict[Listener, None] = {}
        self.epoch: str | None = None
        self.position: Position = _ZERO  # the last entry read (or the head when attached)
        self.number = 0
        self.ended = False
        # Set once the head was read from Redis; until then the reader leaves the feed alone.
        self.ready = anyio.Event()

    def head(self) -> Head:
        return Head(self.epoch, self.position, self.number, self.ended)

    def advance(self, record: Record) -> None:
        self.epoch, self.position = record.epoch, record.position
        self.number, self.ended = record.number, record.final


class RedisBackend:
    """Channels on Redis Streams: every process on the same Redis shares them.

    - `client`: a `redis.asyncio.Redis` (or `RedisBackend.from_url(url)`).
    - `history`: events kept per channel, at least (``XADD ... MAXLEN ~``: Redis trims whole
      nodes, so a stream may hold a few more).
    - `ttl`: seconds a channel's history is kept after its last event (``PEXPIRE``); None
      keeps it.
    - `prefix`: put before every channel's name to make its stream's key.
    - `block`: seconds the reader's ``XREAD`` blocks at most before it reads again; keep it
      below the client's socket timeout (redis-py's default is 5 s), or the blocked read
      times out as if Redis were down.
    - `gather`: seconds the reader waits after fanning out events before it reads again, so
      that a busy channel's events reach each subscriber in batches (one write for many)
      rather than one by one. An event published after a quiet spell at least this long is
      not delayed; under a steady stream an event waits at most this long in Redis. 0 reads
      again as soon as the subscribers have had their turn.

    Ids are ``<epoch>-<ms>-<seq>``: the history's epoch and the stream entry's id. Use one
    Redis (a primary, with replicas if you like), not a Redis Cluster: the reader reads all its
    streams in one ``XREAD``, which a cluster refuses across slots.

    >>> backend = RedisBackend.from_url("redis://127.0.0.1:6379/0", history=1000, ttl=600)
    """

    position_size: Final = 2

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        history: int = DEFAULT_HISTORY,
        ttl: float | None = DEFAULT_TTL,
        prefix: str = "sse:",
        block: float = 2.0,
        gather: float = 0.005,
    ) -> None:
        if isinstance(history, bool) or not isinstance(history, int) or history < 1:
            raise ValueError(f"history must be an int >= 1, got {history!r}")
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0
        ):
            raise ValueError(f"ttl must be None or a number of seconds > 0, got {ttl!r}")
        if not isinstance(block, int | float) or not 0 < block <= 3600:
            raise ValueError(f"block must be a number of seconds in (0, 3600], got {block!r}")
        if isinstance(gather, bool) or not isinstance(gather, int | float) or not 0 <= gather <= 60:
            raise ValueError(f"gather must be a number of seconds in [0, 60], got {gather!r}")
        self.client = client
        self.history_size = history
        self.ttl = ttl
        self.prefix = prefix
        self.block = block
        self.gather = gather
        self._ttl_ms = "0" if ttl is None else str(max(1, round(ttl * 1000)))
        self._publish_script = client.register_script(PUBLISH_SCRIPT)
        self._feeds: dict[str, _Feed] = {}
        self._wake_key = f"{prefix}wake:{new_epoch()}"
        self._wake_position = "0-0"
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, **settings: Any) -> RedisBackend:
        """A backend on the Redis at `url` (``redis://host:port/db``); `settings` are the
        backend's (`history`, `ttl`, `prefix`, `block`). The backend owns this client: its
        connections are closed when the broadcast stops."""
        backend = cls(redis.asyncio.Redis.from_url(url), **settings)
        backend._owns_client = True
        return backend

    def __repr__(self) -> str:
        return (
            f"RedisBackend({self._broker()}, history={self.history_size}, ttl={self.ttl}, "
            f"prefix={self.prefix!r})"
        )

    def _broker(self) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return f"Redis at unix:{kwargs['path']}"
        return f"Redis at {kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"

    def _unavailable(self, exc: BaseException) -> BackendUnavailableError:
        return BackendUnavailableError(f"{self._broker()} is unavailable: {exc}")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        if not _under_asyncio():
            raise RuntimeError(
                "RedisBackend runs under asyncio only (redis-py's client is asyncio's); "
                "use MemoryBackend under trio"
            )
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(self._read_forever)
                try:
                    yield
                finally:
                    task_group.cancel_scope.cancel()
        finally:
            if self._owns_client:
                # The reader's connection was dropped with its cancelled read; close the rest.
                with anyio.CancelScope(shield=True):
                    await self.client.aclose()

    async def publish(self, channel: str, template: ServerSentEvent, *, final: bool) -> str:
        arguments = [new_epoch(), self.history_size, self._ttl_ms, *entry_fields(template, final)]
        try:
            epoch, entry_id = await self._publish_script(
                keys=[self.prefix + channel], args=arguments
            )
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        except ResponseError as exc:
            if ENDED_ERROR in str(exc):
                raise ChannelEndedError(
                    f"channel {channel!r} has ended (a final event was published); it takes "
                    "events again when its history expires"
                ) from None
            raise
        # Local subscribers get the event from the reader, like everybody else's events.
        return f"{text(epoch)}-{text(entry_id)}"

    async def attach(self, channel: str, listener: Listener) -> Head:
        feed = self._feeds.get(channel)
        if feed is None:
            feed = self._feeds[channel] = _Feed()
            try:
                await self._read_head(channel, feed)
            except BaseException:
                del self._feeds[channel]
                feed.ready.set()  # whoever waits for it finds it gone, and starts another
                raise
            # Ready and listened to in one step: the reader never reads a feed that nobody
            # listens to yet (it would read past the head, and drop the feed).
            feed.listeners[listener] = None
            head = feed.head()
            feed.ready.set()
            # Only now, so that the read the wake-up causes includes this stream.
            try:
                await self._wake_reader()
            except BaseException:
                self.detach(channel, listener)
                raise
            return head
        if not feed.ready.is_set():
            await feed.ready.wait()
            if self._feeds.get(channel) is not feed:
                return await self.attach(channel, listener)
        # The head and the registration in one step: the reader feeds the listener every
        # entry after this position, and has fed none of them to anybody yet.
        feed.listeners[listener] = None
        return feed.head()

    def detach(self, channel: str, listener: Listener) -> None:
        feed = self._feeds.get(channel)
        if feed is None:
            return
        feed.listeners.pop(listener, None)
        if not feed.listeners and feed.ready.is_set():
            # The reader stops reading the stream from its next read on.
            del self._feeds[channel]

    async def history(
        self, channel: str, epoch: str, after: Position, upto: Position
    ) -> list[Record] | None:
        key = self.prefix + channel
        records: list[Record] = []
        # Read from `after` itself: the history covers it iff that entry is still there
        # (trimming drops the oldest first). From the zero position, iff the history's first
        # event (number 1) is still there.
        start, end = ("-" if after == _ZERO else stream_id(after)), stream_id(upto)
        while True:
            try:
                reply: Any = await self.client.xrange(key, start, end, count=_READ_COUNT)
            except _UNAVAILABLE as exc:
                raise self._unavailable(exc) from exc
            entries: _Entries = reply or []
            batch = [entry_record(entry_id, fields) for entry_id, fields in entries]
            if start[0] != "(":  # the first batch
                if not batch or batch[0].epoch != epoch:
                    return None
                if after == _ZERO:
                    if batch[0].number != 1:
                        return None
                elif batch[0].position != after:
                    return None
                else:
                    del batch[0]
            if any(record.epoch != epoch for record in batch):
                return None  # the history was replaced while it was read
            records += batch
            if len(entries) < _READ_COUNT:
                return records
            start = "(" + text(entries[-1][0])

    # The reader: one task per process.

    async def _read_head(self, channel: str, feed: _Feed) -> None:
        try:
            last: Any = await self.client.xrevrange(self.prefix + channel, count=1)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        if last:
            feed.advance(entry_record(*last[0]))

    async def _wake_reader(self) -> None:
        """Make the reader's blocked XREAD return, so that its next read includes the feeds
        that became ready since it began."""
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": 1}, maxlen=1)
                pipe.pexpire(self._wake_key, _WAKE_TTL_MS)
                await pipe.execute()
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc

    async def _read_forever(self) -> None:
        backoff = 0.0
        while True:
            try:
                if backoff:
                    await self._recheck_feeds()
                    logger.info("%s answers again; reading on", self._broker())
                    backoff = 0.0
                if await self._read_once():
                    await self._let_events_gather()
            except _UNAVAILABLE as exc:
                # Bounded backoff; the subscribers wait meanwhile. Said once per outage.
                log = logger.debug if backoff else logger.warning
                backoff = min(_BACKOFF_MAX, max(_BACKOFF_FIRST, backoff * 2))
                log("%s; reading again in %.2f s", self._unavailable(exc), backoff)
                await anyio.sleep(backoff)
            except Exception:
                # Never let one bad reply (an entry some other program wrote, say) end the
                # reading for every subscriber of the process.
                backoff = _BACKOFF_MAX
                logger.exception(
                    "reading %s failed; reading again in %.2f s", self._broker(), backoff
                )
                await anyio.sleep(backoff)

    async def _let_events_gather(self) -> None:
        # The reader just woke this process's subscribers, which now each write what they got.
        # Reading again at once would hand them the one or two events published meanwhile (a
        # publisher waits for each XADD's reply, which is handled only after those writes), so
        # each subscriber would write every event on its own. Pausing after their turn lets a
        # busy channel's events gather in Redis and reach each subscriber in one write. An event
        # published after a quiet spell finds the reader blocked in XREAD: it is not delayed.
        await anyio.lowlevel.cancel_shielded_checkpoint()
        await anyio.sleep(self.gather)

    async def _read_once(self) -> bool:
        feeds = {
            self.prefix + channel: feed
            for channel, feed in self._feeds.items()
            if feed.ready.is_set()
        }
        streams: dict[Any, Any] = {key: stream_id(feed.position) for key, feed in feeds.items()}
        streams[self._wake_key] = self._wake_position
        reply: Any = await self.client.xread(
            streams, count=_READ_COUNT, block=max(1, round(self.block * 1000))
        )
        # A list of [key, entries] pairs (RESP2), or a map of them (RESP3).
        replies: list[tuple[bytes | str, _Entries]] = list(
            reply.items() if isinstance(reply, dict) else reply or []
        )
        fanned_out = False
        for key, entries in replies:
            name = text(key)
            if name == self._wake_key:
                self._wake_position = text(entries[-1][0])
                continue
            feed = feeds[name]
            fanned_out = True
            for entry_id, fields in entries:
                try:
                    record = entry_record(entry_id, fields)
                except (KeyError, ValueError, TypeError) as exc:
                    # Not an entry a broadcast wrote (another program used the key): step
                    # over it. The next event's number shows the subscribers a gap.
                    logger.error("skipping entry %r of %s: %r", entry_id, name, exc)
                    feed.position = parse_stream_id(entry_id)
                    continue
                feed.advance(record)
                detached = [item for item in feed.listeners if not item.deliver(record)]
                for listener in detached:
                    del feed.listeners[listener]
            if not feed.listeners and self._feeds.get(name[len(self.prefix) :]) is feed:
                del self._feeds[name[len(self.prefix) :]]
        return fanned_out

    async def _recheck_feeds(self) -> None:
        # Redis was unreachable: it may have restarted without its data. A feed whose stream
        # is gone, or now holds another history, reads the current history from its start;
        # its subscribers see the new epoch and get a "reset" gap event first.
        for channel, feed in list(self._feeds.items()):
            if not feed.ready.is_set():
                continue
            last: Any = await self.client.xrevrange(self.prefix + channel, count=1)
            if not last or entry_record(*last[0]).epoch != feed.epoch:
                feed.position = _ZERO
