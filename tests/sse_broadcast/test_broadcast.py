"""`Broadcast`: publishing, its ids, its settings, and its life (``async with``)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from support.broadcast import collect, take

from sse_broadcast import (
    Broadcast,
    BroadcastError,
    BroadcastNotRunningError,
    EventIdError,
    InvalidChannelError,
    MemoryBackend,
    parse_event_id,
)
from sse_core import ServerSentEvent, SSEError


def test_publish_returns_increasing_ids_scoped_to_the_channels_history(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            a = [await broadcast.publish("a", f"a{n}") for n in range(3)]
            b = [await broadcast.publish("b", f"b{n}") for n in range(2)]
        parsed_a = [parse_event_id(event_id, 1) for event_id in a]
        parsed_b = [parse_event_id(event_id, 1) for event_id in b]
        assert [p[1] for p in parsed_a if p] == [(1,), (2,), (3,)]
        assert [p[1] for p in parsed_b if p] == [(1,), (2,)]
        # One epoch per channel's history: b's ids name no position in a's history.
        assert len({p[0] for p in parsed_a if p}) == 1
        assert {p[0] for p in parsed_a if p}.isdisjoint({p[0] for p in parsed_b if p})

    anyio.run(scenario, backend=backend)


def test_every_subscriber_gets_the_same_event_object_encoded_once(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            subscriptions = [broadcast.subscribe("news") for _ in range(5)]
            for subscription in subscriptions:
                await subscription.__aenter__()
            event_id = await broadcast.publish("news", {"event": "headline", "data": {"n": 1}})
            received = [(await take(subscription, 1))[0] for subscription in subscriptions]
            for subscription in subscriptions:
                await subscription.aclose()
        first = received[0]
        assert first == ServerSentEvent('{"n":1}', event="headline", id=event_id)
        # The very same object: its bytes were written once, at publish.
        assert all(event is first for event in received)

    anyio.run(scenario, backend=backend)


def test_using_a_broadcast_outside_its_block_is_a_clear_error(backend: str) -> None:
    broadcast = Broadcast()

    async def scenario() -> None:
        with pytest.raises(BroadcastNotRunningError, match="async with broadcast"):
            await broadcast.publish("news", "x")
        with pytest.raises(BroadcastNotRunningError):
            await anext(broadcast.subscribe("news"))
        async with broadcast:
            await broadcast.publish("news", "x")
        with pytest.raises(BroadcastNotRunningError):
            await broadcast.publish("news", "y")
        # It may run again (a test, an app restarted in the same process).
        async with broadcast:
            await broadcast.publish("news", "z")

    anyio.run(scenario, backend=backend)
    assert issubclass(BroadcastNotRunningError, BroadcastError)
    assert issubclass(BroadcastError, SSEError)


def test_leaving_the_block_ends_subscriptions_after_what_they_buffered(backend: str) -> None:
    async def scenario() -> list[str | None]:
        received: list[str | None] = []
        async with Broadcast() as broadcast:
            subscription = broadcast.subscribe("news")
            await subscription.__aenter__()
            await broadcast.publish("news", "one")
            await broadcast.publish("news", "two")
        # The broadcast is gone: the subscription hands out what it had, then ends.
        received += [event.data for event in await collect(subscription)]
        return received

    assert anyio.run(scenario, backend=backend) == ["one", "two"]


def test_a_waiting_subscriber_ends_when_the_broadcast_stops(backend: str) -> None:
    async def scenario() -> None:
        ended = anyio.Event()

        async def follow(broadcast: Broadcast) -> None:
            async with broadcast.subscribe("quiet") as subscription:
                assert await collect(subscription) == []
            ended.set()

        async with anyio.create_task_group() as task_group:
            async with Broadcast() as broadcast:
                task_group.start_soon(follow, broadcast)
                await anyio.wait_all_tasks_blocked()
            with anyio.fail_after(5):
                await ended.wait()

    anyio.run(scenario, backend=backend)


@pytest.mark.parametrize(
    ("item", "error", "match"),
    [
        (ServerSentEvent("x", id="7"), EventIdError, "assigns ids itself"),
        ({"data": "x", "id": "7"}, EventIdError, "assigns ids itself"),
        (b"data: x\n\n", TypeError, "already-encoded bytes"),
    ],
)
def test_publishing_an_item_the_broadcast_cannot_give_an_id_is_refused(
    item: Any, error: type[Exception], match: str
) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            with pytest.raises(error, match=match):
                await broadcast.publish("news", item)
            # Nothing was published: the next event is the history's first.
            event_id = await broadcast.publish("news", "ok")
            assert event_id.endswith("-1")

    anyio.run(scenario)


def test_channel_names_are_checked_on_publish_and_subscribe() -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            with pytest.raises(InvalidChannelError, match="1 to 200 characters"):
                await broadcast.publish("no spaces", "x")
            with pytest.raises(InvalidChannelError, match="must be a str"):
                broadcast.subscribe(42)  # type: ignore[arg-type]

    anyio.run(scenario)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"buffer_size": 0}, "buffer_size must be an int >= 1"),
        ({"buffer_size": True}, "buffer_size must be an int >= 1"),
        ({"buffer_size": 1.5}, "buffer_size must be an int >= 1"),
        ({"overflow": "block"}, "overflow must be 'end' or 'drop-oldest'"),
        ({"gap_event_type": ""}, "gap_event_type must be a non-empty str"),
        ({"gap_event_type": "a\nb"}, "'event'"),
    ],
)
def test_settings_are_checked(settings: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Broadcast(**settings)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"history": 0}, "history must be an int >= 1"),
        ({"history": 2.0}, "history must be an int >= 1"),
        ({"ttl": 0}, "ttl must be None or a number of seconds > 0"),
        ({"ttl": -1.0}, "ttl must be None or a number of seconds > 0"),
        ({"ttl": True}, "ttl must be None or a number of seconds > 0"),
    ],
)
def test_memory_backend_settings_are_checked(settings: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MemoryBackend(**settings)


def test_a_broadcast_cannot_run_twice_at_once() -> None:
    async def scenario() -> None:
        broadcast = Broadcast()
        async with broadcast:
            with pytest.raises(RuntimeError, match="already running"):
                await broadcast.__aenter__()

    anyio.run(scenario)
