"""`MemoryBackend`: bounded histories, forgotten channels, and what it reports."""

from __future__ import annotations

import anyio
from support.broadcast import take

from sse_broadcast import Broadcast, MemoryBackend, MemoryStatistics


def test_each_history_keeps_its_last_events_only(backend: str) -> None:
    async def scenario() -> None:
        memory = MemoryBackend(history=5)
        async with Broadcast(memory) as broadcast:
            for channel in ("a", "b"):
                ids = [await broadcast.publish(channel, n) for n in range(50)]
            assert memory.statistics() == MemoryStatistics(channels=2, events=10, listeners=0)
            assert memory.statistics("a") == MemoryStatistics(channels=1, events=5, listeners=0)
            assert memory.statistics("missing") == MemoryStatistics(0, 0, 0)
            replay = await take(broadcast.subscribe("b", last_event_id=ids[-6]), 5)
            assert [event.id for event in replay] == ids[-5:]

    anyio.run(scenario, backend=backend)


def test_a_channel_with_neither_history_nor_subscriber_is_forgotten(backend: str) -> None:
    async def scenario() -> None:
        memory = MemoryBackend(ttl=0.05)
        async with Broadcast(memory) as broadcast:
            # Subscribers of channels nobody publishes to leave nothing behind.
            for n in range(100):
                async with broadcast.subscribe(f"idle-{n}"):
                    pass
            assert memory.statistics().channels == 0
            # A history lives until its ttl has passed, with a subscriber or without.
            async with broadcast.subscribe("kept") as subscription:
                await broadcast.publish("kept", "x")
                await broadcast.publish("gone", "x")
                await take(subscription, 1)
                with anyio.fail_after(5):
                    while memory.statistics().events:
                        await anyio.sleep(0.005)
                # "gone" is forgotten; "kept" is there for its subscriber, without history.
                assert memory.statistics() == MemoryStatistics(1, 0, 1)
            assert memory.statistics().channels == 0

    anyio.run(scenario, backend=backend)


def test_histories_without_a_ttl_are_kept() -> None:
    async def scenario() -> None:
        memory = MemoryBackend(ttl=None)
        async with Broadcast(memory) as broadcast:
            await broadcast.publish("kept", "x")
            await anyio.sleep(0.05)
            assert memory.statistics().events == 1

    anyio.run(scenario)
    assert repr(MemoryBackend(history=3, ttl=None)) == "MemoryBackend(history=3, ttl=None)"


def test_a_backend_runs_again_under_another_event_loop(backend: str) -> None:
    memory = MemoryBackend(ttl=60)
    broadcast = Broadcast(memory)

    async def first() -> str:
        async with broadcast:
            return await broadcast.publish("kept", "x")

    async def second(first_id: str) -> None:
        async with broadcast:
            # Nothing of the first loop is used: its history is there, expiries still work.
            (event,) = await take(broadcast.subscribe("kept", from_start=True), 1)
            assert event.id == first_id
            await broadcast.publish("other", "y")

    first_id = anyio.run(first)
    anyio.run(second, first_id, backend=backend)
