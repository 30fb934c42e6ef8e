"""Resumable runs (the LLM-chat shape): tokens, then a final event, then expiry."""

from __future__ import annotations

import time

import anyio
import pytest
from support.broadcast import collect, gap_data, take

from sse_broadcast import Broadcast, ChannelEndedError, MemoryBackend, parse_event_id


async def wait_for(condition: object, timeout: float = 5.0) -> None:
    """Polls `condition()` until it holds; fails if it does not within `timeout` seconds."""
    assert callable(condition)
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.005)


def test_a_run_is_followed_mid_run_and_the_iteration_ends_after_the_final_event(
    backend: str,
) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            first = await broadcast.publish("run-1", "Hel")
            second = await broadcast.publish("run-1", "lo")
            # One client follows from the start, another resumes after the first token.
            from_start = broadcast.subscribe("run-1", from_start=True)
            resumed = broadcast.subscribe("run-1", last_event_id=first)
            await from_start.__aenter__()
            await resumed.__aenter__()
            done = await broadcast.publish("run-1", {"event": "done", "data": ""}, final=True)
            assert [event.id for event in await collect(from_start)] == [first, second, done]
            assert [event.id for event in await collect(resumed)] == [second, done]

    anyio.run(scenario, backend=backend)


def test_an_ended_run_is_replayed_whole_and_then_the_iteration_ends(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            ids = [await broadcast.publish("run-2", token) for token in ("a", "b", "c")]
            ids.append(await broadcast.publish("run-2", {"event": "done"}, final=True))
            replay = await collect(broadcast.subscribe("run-2", from_start=True))
            assert [event.id for event in replay] == ids
            assert replay[-1].event == "done"
            # Resuming after the final event, or live-only, ends at once: nothing will come.
            assert await collect(broadcast.subscribe("run-2", last_event_id=ids[-1])) == []
            assert await collect(broadcast.subscribe("run-2")) == []

    anyio.run(scenario, backend=backend)


def test_an_ended_run_takes_no_more_events_until_it_expires(backend: str) -> None:
    async def scenario() -> None:
        memory = MemoryBackend(ttl=0.05)
        async with Broadcast(memory) as broadcast:
            old = await broadcast.publish("run-3", "token")
            await broadcast.publish("run-3", "end", final=True)
            with pytest.raises(ChannelEndedError, match="'run-3' has ended"):
                await broadcast.publish("run-3", "late")
            # The sweeper drops the history by itself once the ttl has passed.
            await wait_for(lambda: memory.statistics().channels == 0)
            # Then the channel starts a new history, with a new epoch.
            new = await broadcast.publish("run-3", "again")
            old_parsed, new_parsed = parse_event_id(old, 1), parse_event_id(new, 1)
            assert old_parsed is not None
            assert new_parsed is not None
            assert new_parsed[1] == (1,)
            assert new_parsed[0] != old_parsed[0]
            # An id of the expired history is no position: a gap, then live events.
            async with broadcast.subscribe("run-3", last_event_id=old) as subscription:
                (gap,) = await take(subscription, 1)
            assert gap_data(gap) == {"reason": "unknown", "last_event_id": old}
            assert gap.id == new

    anyio.run(scenario, backend=backend)


def test_a_subscriber_that_stays_across_an_expiry_is_told_of_the_reset(backend: str) -> None:
    async def scenario() -> None:
        memory = MemoryBackend(ttl=0.05)
        async with Broadcast(memory) as broadcast, broadcast.subscribe("room") as subscription:
            before = await broadcast.publish("room", "before")
            assert [event.id for event in await take(subscription, 1)] == [before]
            await wait_for(lambda: memory.statistics("room").events == 0)
            after = await broadcast.publish("room", "after")
            gap, event = await take(subscription, 2)
        # The history it followed is gone; the new one starts at its first event, which the
        # gap's id points just before (a reconnect with it replays the new history).
        assert gap_data(gap)["reason"] == "reset"
        parsed = parse_event_id(after, 1)
        assert parsed is not None
        assert gap.id == f"{parsed[0]}-0"
        assert event.id == after

    anyio.run(scenario, backend=backend)


def test_the_ttl_counts_from_the_channels_last_event() -> None:
    ttl = 0.3

    async def scenario() -> None:
        memory = MemoryBackend(ttl=ttl)
        async with Broadcast(memory) as broadcast:
            await broadcast.publish("busy", "x")
            await anyio.sleep(ttl / 2)
            await broadcast.publish("busy", "y")
            last_publish = time.monotonic()
            await wait_for(lambda: memory.statistics().channels == 0)
            # Only a lower bound, which load cannot break: never before the ttl after the last
            # event (the first one's expiry was pushed back, not kept).
            assert time.monotonic() >= last_publish + ttl

    anyio.run(scenario)
