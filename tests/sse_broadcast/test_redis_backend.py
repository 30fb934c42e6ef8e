"""`RedisBackend` against a real redis-server: fan-out across processes, the seam, bounded
histories, runs, a flushed Redis, and one reading connection per process.

Every test here is marked ``redis``: the package's isolated CI run (no redis-py) deselects
them. redis-py is imported inside the tests, so this module imports without it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from support.broadcast import SeamCase, collect, gap_data, run_seam_case, seam_cases, take

from sse_broadcast import (
    Broadcast,
    BroadcastError,
    ChannelEndedError,
    parse_event_id,
)

if TYPE_CHECKING:
    from support.redis import RedisServer

    from sse_broadcast.redis import RedisBackend

# They start a redis-server (a session fixture), so they are slow tests too.
pytestmark = [pytest.mark.slow, pytest.mark.redis]


def backend(server: RedisServer, **settings: Any) -> RedisBackend:
    """A backend on `server` with a prefix of its own, so tests never see each other's keys."""
    from sse_broadcast.redis import RedisBackend  # noqa: PLC0415 (redis-py only here)

    settings.setdefault("prefix", f"test-{uuid.uuid4().hex[:12]}:")
    return RedisBackend.from_url(server.url, **settings)


def test_events_published_in_one_process_reach_subscribers_of_another(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        first = backend(redis_server)
        # The same Redis and prefix, another backend: what a second worker process has.
        second = backend(redis_server, prefix=first.prefix)
        async with Broadcast(first) as a, Broadcast(second) as b:
            async with b.subscribe("news") as on_b, a.subscribe("news") as on_a:
                ids = [await a.publish("news", {"event": "n", "data": n}) for n in range(3)]
                ids.append(await b.publish("news", "from b"))
                got_b = await take(on_b, 4)
                got_a = await take(on_a, 4)
            resumed = await take(b.subscribe("news", last_event_id=ids[0]), 3)
        assert [event.id for event in got_b] == ids == [event.id for event in got_a]
        assert [event.data for event in got_b] == ["0", "1", "2", "from b"]
        assert [event.id for event in resumed] == ids[1:]
        for event_id in ids:
            parsed = parse_event_id(event_id, 2)  # <epoch>-<ms>-<seq>
            assert parsed is not None
        assert len({parse_event_id(event_id, 2)[0] for event_id in ids}) == 1  # type: ignore[index]

    anyio.run(scenario)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=seam_cases(max_events=8))
def test_redis_backend_seam(redis_server: RedisServer, case: SeamCase) -> None:
    async def scenario() -> None:
        async with Broadcast(backend(redis_server, history=3), buffer_size=100) as broadcast:
            # A broker's history may be trimmed between the head and the read: a gap may then
            # come for events the history held at the head (never a silent loss).
            await run_seam_case(broadcast, case, 3, atomic_start=False)

    anyio.run(scenario)


def test_histories_are_bounded_and_expire(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        redis_backend = backend(redis_server, history=10, ttl=30)
        async with Broadcast(redis_backend) as broadcast:
            ids = [await broadcast.publish("bounded", n) for n in range(500)]
            key = redis_backend.prefix + "bounded"
            length = await redis_backend.client.xlen(key)
            ttl_ms = await redis_backend.client.pttl(key)
            # "MAXLEN ~" keeps at least the history, and trims whole nodes (100 entries).
            assert 10 <= length <= 10 + 100
            assert 0 < ttl_ms <= 30_000
            # The oldest event it holds is the first it replays; anything older is a gap.
            async with broadcast.subscribe("bounded", last_event_id=ids[0]) as subscription:
                (gap,) = await take(subscription, 1)
            assert gap_data(gap)["reason"] == "expired"
            assert gap.id == ids[-1]
            replay = await take(broadcast.subscribe("bounded", last_event_id=ids[-11]), 10)
            assert [event.id for event in replay] == ids[-10:]

    anyio.run(scenario)


def test_runs_end_with_their_final_event_and_are_replayed_whole(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        async with Broadcast(backend(redis_server)) as broadcast:
            async with broadcast.subscribe("run", from_start=True) as follower:
                ids = [await broadcast.publish("run", token) for token in ("a", "b")]
                ids.append(await broadcast.publish("run", {"event": "done"}, final=True))
                assert [event.id for event in await collect(follower)] == ids
            with pytest.raises(ChannelEndedError, match="'run' has ended"):
                await broadcast.publish("run", "late")
            replay = await collect(broadcast.subscribe("run", from_start=True))
            assert [event.id for event in replay] == ids
            assert await collect(broadcast.subscribe("run", last_event_id=ids[-1])) == []

    anyio.run(scenario)


def test_after_flushall_old_ids_get_a_gap_and_followers_a_reset(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        redis_backend = backend(redis_server)
        async with Broadcast(redis_backend) as broadcast:
            async with broadcast.subscribe("flushed") as follower:
                old = await broadcast.publish("flushed", "before")
                assert [event.id for event in await take(follower, 1)] == [old]
                await redis_backend.client.flushall()
                new = await broadcast.publish("flushed", "after")
                reset, event = await take(follower, 2)
            # The follower is told its history was replaced, then gets the new one's events.
            assert gap_data(reset)["reason"] == "reset"
            assert event.id == new
            new_epoch = parse_event_id(new, 2)
            assert new_epoch is not None
            assert reset.id == f"{new_epoch[0]}-0-0"
            assert new_epoch[0] != (parse_event_id(old, 2) or ("", ()))[0]
            # A client that comes back with an id from before the flush gets a gap first.
            async with broadcast.subscribe("flushed", last_event_id=old) as returning:
                later = await broadcast.publish("flushed", "later")
                gap, live = await take(returning, 2)
            assert gap_data(gap) == {"reason": "unknown", "last_event_id": old}
            assert gap.id == new
            assert live.id == later

    anyio.run(scenario)


def test_one_reading_connection_per_process_whatever_the_subscribers(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        redis_backend = backend(redis_server)
        client = redis_backend.client
        async with Broadcast(redis_backend) as broadcast:
            subscriptions = [broadcast.subscribe(f"ch-{n % 10}") for n in range(200)]
            for subscription in subscriptions:
                await subscription.__aenter__()
            ids = [await broadcast.publish(f"ch-{n}", n) for n in range(10)]
            for n, subscription in enumerate(subscriptions):
                assert [event.id for event in await take(subscription, 1)] == [ids[n % 10]]
            # This process's connections: the reader's blocked XREAD, and the pool's few for
            # publishing and subscribing; never one per subscriber or per channel.
            clients = await client.client_list()
            mine = [entry for entry in clients if entry.get("lib-name", "redis-py") == "redis-py"]
            blocked = [entry for entry in mine if entry.get("cmd") == "xread"]
            assert len(blocked) <= 1
            assert len(client.connection_pool._in_use_connections) <= 2
            assert len(client.connection_pool._available_connections) <= 5
            for subscription in subscriptions:
                await subscription.aclose()

    anyio.run(scenario)


def test_the_first_subscriber_of_a_channel_gets_live_events_at_once(
    redis_server: RedisServer,
) -> None:
    # The reader must include a newly subscribed channel's stream in the very read its
    # wake-up causes, not in the one after the next `block` seconds.
    async def scenario() -> None:
        broadcast = Broadcast(backend(redis_server, block=4.0))
        async with broadcast:
            for channel in ("first", "second", "third"):
                async with broadcast.subscribe(channel) as subscription:
                    await broadcast.publish(channel, channel)
                    with anyio.fail_after(3.0):  # before one `block` could have passed
                        assert (await anext(subscription)).data == channel

    anyio.run(scenario)


def test_a_busy_channels_events_reach_a_subscriber_together(redis_server: RedisServer) -> None:
    # After the reader fans out an event it waits `gather` seconds before reading again, so
    # events published meanwhile arrive together: one write per subscriber for all of them.
    # The first event, published while the reader waits in XREAD, is not held back at all.
    async def scenario() -> None:
        broadcast = Broadcast(backend(redis_server, gather=2.0))
        async with broadcast, broadcast.subscribe("busy") as subscription:
            await broadcast.publish("busy", "first")
            with anyio.fail_after(1.5):  # before one `gather` could have passed
                first = await anext(subscription)
            for n in range(3):
                await broadcast.publish("busy", str(n))
            with anyio.fail_after(10):
                together = [await anext(subscription)]
            together += [subscription.receive_nowait() for _ in range(2)]
        assert first.data == "first"
        assert [event.data for event in together] == ["0", "1", "2"]

    anyio.run(scenario)


def test_the_backend_refuses_bad_settings() -> None:
    from sse_broadcast.redis import RedisBackend  # noqa: PLC0415

    cases: list[tuple[dict[str, Any], str]] = [
        ({"history": 0}, "history must be an int >= 1"),
        ({"ttl": 0}, "ttl must be None or a number of seconds > 0"),
        ({"block": 0}, "block must be a number of seconds"),
        ({"gather": -0.001}, "gather must be a number of seconds"),
        ({"gather": True}, "gather must be a number of seconds"),
    ]
    for settings_, match in cases:
        with pytest.raises(ValueError, match=match):
            RedisBackend.from_url("redis://127.0.0.1:1/0", **settings_)
    assert issubclass(ChannelEndedError, BroadcastError)


def test_an_entry_no_broadcast_wrote_is_stepped_over_with_a_gap(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        redis_backend = backend(redis_server)
        broadcast = Broadcast(redis_backend)
        async with broadcast, broadcast.subscribe("shared") as follower:
            first = await broadcast.publish("shared", "one")
            await redis_backend.client.xadd(redis_backend.prefix + "shared", {"junk": "x"})
            await broadcast.publish("shared", "two")
            events = await take(follower, 3)
        assert [event.data for event in events][::2] == ["one", "two"]
        assert events[0].id == first
        # The junk entry is no event, and no history's: the next publish starts a new history
        # (its epoch cannot be read from the last entry), which followers are told of.
        assert gap_data(events[1]) == {"reason": "reset", "last_event_id": None}

    anyio.run(scenario)
    assert any("skipping entry" in record.getMessage() for record in caplog.records)


def test_under_trio_the_redis_backend_says_it_needs_asyncio() -> None:
    from sse_broadcast.redis import RedisBackend  # noqa: PLC0415

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="asyncio only"):
            async with Broadcast(RedisBackend.from_url("redis://127.0.0.1:1/0")):
                pass

    anyio.run(scenario, backend="trio")
