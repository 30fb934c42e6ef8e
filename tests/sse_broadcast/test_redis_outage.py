"""Redis stopped and restarted under a running broadcast: publish says so, subscribers wait
and resume (told of the lost history), and nothing crashes or leaks."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING

import anyio
import pytest
from support.broadcast import gap_data, take
from support.redis import RedisUnavailable, start_redis_server, unavailable

from sse_broadcast import BackendUnavailableError, Broadcast, parse_event_id

if TYPE_CHECKING:
    from pathlib import Path

    from support.redis import RedisServer

# They start a redis-server (a session fixture), so they are slow tests too.
pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture
def own_redis_server(tmp_path: Path) -> RedisServer:
    """A redis-server for this test alone: it is going to be stopped."""
    try:
        return start_redis_server(tmp_path)
    except RedisUnavailable as exc:
        unavailable(str(exc))


def broadcast_tasks() -> set[asyncio.Task[object]]:
    """The tasks sse_broadcast runs (redis-py's own come and go with each command it sends)."""
    return {task for task in asyncio.all_tasks() if task.get_name().startswith("sse_broadcast.")}


async def publish_when_back(broadcast: Broadcast, channel: str, item: str) -> str:
    """Publish, retrying (bounded) while the broker does not answer yet."""
    with anyio.fail_after(10):
        while True:
            try:
                return await broadcast.publish(channel, item)
            except BackendUnavailableError:
                await anyio.sleep(0.05)


def test_redis_restarted_mid_stream(
    own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    from sse_broadcast.redis import RedisBackend  # noqa: PLC0415 (redis-py only here)

    server = own_redis_server
    caplog.set_level(logging.WARNING, logger="sse_broadcast")

    async def scenario() -> None:
        backend = RedisBackend.from_url(server.url, prefix=f"{uuid.uuid4().hex[:8]}:", block=0.5)
        async with Broadcast(backend) as broadcast, broadcast.subscribe("live") as follower:
            before = await broadcast.publish("live", "before")
            assert [event.id for event in await take(follower, 1)] == [before]
            readers = broadcast_tasks()
            assert len(readers) == 1, [task.get_name() for task in readers]

            server.stop()
            with pytest.raises(BackendUnavailableError, match=f"Redis at 127.0.0.1:{server.port}"):
                await broadcast.publish("live", "while down")
            # A new subscriber cannot start either, and says why.
            with pytest.raises(BackendUnavailableError, match="is unavailable"):
                await anext(broadcast.subscribe("other"))
            # The reader retries with a bounded backoff meanwhile (and says so, once).
            with anyio.fail_after(10):
                while not any("is unavailable" in r.getMessage() for r in caplog.records):
                    await anyio.sleep(0.02)

            server.start()  # empty: no persistence, so the channel's history is gone
            after = await publish_when_back(broadcast, "live", "after")
            reset, event = await take(follower, 2, timeout=10)
            assert gap_data(reset)["reason"] == "reset"
            assert event.id == after
            assert event.data == "after"
            parsed = parse_event_id(after, 2)
            assert parsed is not None
            assert reset.id == f"{parsed[0]}-0-0"
            # A client that comes back with an id from before the restart: a gap, then live.
            async with broadcast.subscribe("live", last_event_id=before) as returning:
                later = await broadcast.publish("live", "later")
                gap, live = await take(returning, 2)
            assert gap_data(gap)["reason"] == "unknown"
            assert live.id == later
            assert [event.id for event in await take(follower, 1)] == [later]
            # The outage left no task behind: the same one reader, nothing else of ours.
            assert broadcast_tasks() == readers

    try:
        anyio.run(scenario)
    finally:
        server.stop()
    assert sum("is unavailable" in r.getMessage() for r in caplog.records) == 1
