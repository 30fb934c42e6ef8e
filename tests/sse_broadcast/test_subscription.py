"""`Subscription`: replay after an id, gap events, slow subscribers, and closing."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest
from support.broadcast import collect, gap_data, is_gap, take

from sse_broadcast import (
    Broadcast,
    Head,
    MemoryBackend,
    Record,
    format_event_id,
    parse_event_id,
)
from sse_core import ServerSentEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


def test_a_subscriber_resumes_after_its_id_then_goes_on_live(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            ids = [await broadcast.publish("news", f"n{n}") for n in range(5)]
            async with broadcast.subscribe("news", last_event_id=ids[1]) as subscription:
                live_id = await broadcast.publish("news", "live")
                events = await take(subscription, 4)
        assert [event.id for event in events] == [*ids[2:], live_id]
        assert [event.data for event in events] == ["n2", "n3", "n4", "live"]

    anyio.run(scenario, backend=backend)


def test_without_an_id_a_subscriber_gets_live_events_only(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            await broadcast.publish("news", "old")
            async with broadcast.subscribe("news") as subscription:
                await broadcast.publish("news", "new")
                assert [event.data for event in await take(subscription, 1)] == ["new"]

    anyio.run(scenario, backend=backend)


def test_from_start_replays_the_whole_history(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            await broadcast.publish("news", "first")
            await broadcast.publish("news", "second")
            async with broadcast.subscribe("news", from_start=True) as subscription:
                events = await take(subscription, 2)
        assert [event.data for event in events] == ["first", "second"]

    anyio.run(scenario, backend=backend)


def test_an_id_older_than_the_history_gets_a_gap_then_live_events(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast(MemoryBackend(history=3)) as broadcast:
            ids = [await broadcast.publish("news", f"n{n}") for n in range(6)]
            async with broadcast.subscribe("news", last_event_id=ids[1]) as subscription:
                live_id = await broadcast.publish("news", "live")
                gap, live = await take(subscription, 2)
            assert is_gap(gap)
            assert gap_data(gap) == {"reason": "expired", "last_event_id": ids[1]}
            # The gap moves the client to the head: a reconnect with it resumes, no new gap.
            assert gap.id == ids[-1]
            assert live.id == live_id
            async with broadcast.subscribe("news", last_event_id=gap.id) as again:
                assert [event.id for event in await take(again, 1)] == [live_id]

    anyio.run(scenario, backend=backend)


def test_the_oldest_event_the_history_holds_is_still_a_position(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast(MemoryBackend(history=3)) as broadcast:
            ids = [await broadcast.publish("news", f"n{n}") for n in range(6)]
            # ids[2] is gone, ids[3] is the oldest held: after ids[2] means from ids[3] on.
            async with broadcast.subscribe("news", last_event_id=ids[2]) as subscription:
                events = await take(subscription, 3)
            assert [event.id for event in events] == ids[3:]

    anyio.run(scenario, backend=backend)


@pytest.mark.parametrize("kind", ["other-channel", "other-epoch", "garbage", "future", "empty"])
def test_an_id_that_is_no_position_in_this_history_gets_a_gap(backend: str, kind: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            other = await broadcast.publish("other", "x")
            ids = [await broadcast.publish("news", f"n{n}") for n in range(3)]
            parsed = parse_event_id(ids[0], 1)
            assert parsed is not None
            asked = {
                "other-channel": other,
                "other-epoch": format_event_id("0" * 12, (1,)),
                "garbage": "42",
                "future": format_event_id(parsed[0], (4,)),
                "empty": "",
            }[kind]
            async with broadcast.subscribe("news", last_event_id=asked) as subscription:
                live_id = await broadcast.publish("news", "live")
                gap, live = await take(subscription, 2)
        assert gap_data(gap) == {"reason": "unknown", "last_event_id": asked}
        assert gap.id == ids[-1]
        assert live.id == live_id

    anyio.run(scenario, backend=backend)


def test_a_gap_on_a_channel_without_history_has_no_id(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            stale = format_event_id("0" * 12, (9,))
            async with broadcast.subscribe("fresh", last_event_id=stale) as subscription:
                first = await broadcast.publish("fresh", "first")
                gap, event = await take(subscription, 2)
        # No position to move the client to: it keeps its id, and a reconnect before the next
        # event is told of the gap again rather than skipping what came meanwhile.
        assert gap_data(gap)["reason"] == "unknown"
        assert gap.id is None
        assert event.id == first

    anyio.run(scenario, backend=backend)


def test_the_gap_event_type_is_configurable(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast(gap_event_type="resync") as broadcast:
            await broadcast.publish("news", "x")
            async with broadcast.subscribe("news", last_event_id="nonsense") as subscription:
                (gap,) = await take(subscription, 1)
        assert gap.event == "resync"

    anyio.run(scenario, backend=backend)


def test_slow_subscribers_are_ended_and_never_hold_up_a_healthy_one(backend: str) -> None:
    buffer_size, published = 10, 100

    async def scenario() -> None:
        memory = MemoryBackend(history=1000)
        async with Broadcast(memory, buffer_size=buffer_size) as broadcast:
            slow = [broadcast.subscribe("news") for _ in range(100)]
            for subscription in slow:
                await subscription.__aenter__()
            healthy_events: list[str | None] = []

            async def healthy() -> None:
                async with broadcast.subscribe("news") as subscription:
                    healthy_events.extend(event.id for event in await collect(subscription))

            async with anyio.create_task_group() as task_group:
                task_group.start_soon(healthy)
                await anyio.wait_all_tasks_blocked()
                ids = [await broadcast.publish("news", n) for n in range(published - 1)]
                # The slow ones were detached when their buffer filled: only the healthy one
                # is still fed, and each slow one holds `buffer_size` events at most.
                assert memory.statistics("news").listeners == 1
                ids.append(await broadcast.publish("news", "end", final=True))
            assert healthy_events == ids
            for subscription in slow:
                # It hands out what it had, then ends cleanly: the client would reconnect with
                # the last of these ids and resume from history.
                assert [event.id for event in await collect(subscription)] == ids[:buffer_size]

    anyio.run(scenario, backend=backend)


def test_drop_oldest_replaces_what_it_dropped_with_a_gap_event(backend: str) -> None:
    async def scenario() -> None:
        broadcast = Broadcast(buffer_size=3, overflow="drop-oldest")
        async with broadcast, broadcast.subscribe("news") as subscription:
            ids = [await broadcast.publish("news", n) for n in range(10)]
            gap, *rest = await take(subscription, 4)
            assert gap_data(gap) == {"reason": "overflow", "last_event_id": None, "dropped": 7}
            # Its id is the last dropped event's: a reconnect resumes from history there.
            assert gap.id == ids[6]
            assert [event.id for event in rest] == ids[7:]
            # It is still subscribed, and keeps up again.
            live = await broadcast.publish("news", "live")
            assert [event.id for event in await take(subscription, 1)] == [live]

    anyio.run(scenario, backend=backend)


def test_closing_a_subscription_detaches_it_and_forgets_an_empty_channel(backend: str) -> None:
    async def scenario() -> None:
        memory = MemoryBackend()
        async with Broadcast(memory) as broadcast:
            subscription = broadcast.subscribe("quiet")
            assert memory.statistics().channels == 0  # nothing until it is used
            await subscription.__aenter__()
            assert memory.statistics("quiet").listeners == 1
            await subscription.aclose()
            await subscription.aclose()  # twice is fine
            assert memory.statistics().channels == 0
            with pytest.raises(StopAsyncIteration):
                await anext(subscription)

    anyio.run(scenario, backend=backend)


def test_receive_nowait_hands_over_ready_events_as_a_memory_stream_does(backend: str) -> None:
    """What a response uses to write the events a subscriber holds in one message."""

    async def scenario() -> None:
        async with Broadcast() as broadcast:
            subscription = broadcast.subscribe("news")
            with pytest.raises(anyio.WouldBlock):
                subscription.receive_nowait()  # not started: nothing can be ready
            async with subscription:
                with pytest.raises(anyio.WouldBlock):
                    subscription.receive_nowait()
                ids = [await broadcast.publish("news", f"event {n}") for n in range(3)]
                first = await anext(subscription)
                rest = [subscription.receive_nowait(), subscription.receive_nowait()]
                assert [event.id for event in [first, *rest]] == ids
                with pytest.raises(anyio.WouldBlock):
                    subscription.receive_nowait()
                await broadcast.publish("news", "last", final=True)
                assert subscription.receive_nowait().data == "last"
                with pytest.raises(anyio.EndOfStream):
                    subscription.receive_nowait()  # the final event ended it
            with pytest.raises(anyio.EndOfStream):
                subscription.receive_nowait()

    anyio.run(scenario, backend=backend)


def test_closing_from_another_task_ends_a_waiting_iteration(backend: str) -> None:
    async def scenario() -> None:
        async with Broadcast() as broadcast:
            subscription = broadcast.subscribe("quiet")
            async with anyio.create_task_group() as task_group:

                async def iterate() -> None:
                    assert await collect(subscription) == []

                task_group.start_soon(iterate)
                await anyio.wait_all_tasks_blocked()
                await subscription.aclose()

    anyio.run(scenario, backend=backend)


def test_two_tasks_cannot_iterate_one_subscription(backend: str) -> None:
    async def scenario() -> None:
        broadcast = Broadcast()
        async with (
            broadcast,
            broadcast.subscribe("quiet") as subscription,
            anyio.create_task_group() as task_group,
        ):
            task_group.start_soon(anext, subscription)
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(RuntimeError, match="already iterating"):
                await anext(subscription)
            task_group.cancel_scope.cancel()

    anyio.run(scenario, backend=backend)


class FeedByHand:
    """A backend whose live events the test hands over itself: what a broker's reader does
    when it fell behind (events missing) or its history was replaced (a new epoch)."""

    position_size = 1

    def __init__(self) -> None:
        self.listeners: list[Any] = []

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        yield

    async def publish(self, channel: str, template: ServerSentEvent, *, final: bool) -> str:
        raise NotImplementedError  # the test delivers records itself

    async def attach(self, channel: str, listener: Any) -> Head:
        self.listeners.append(listener)
        return Head("a" * 12, (1,), 1, False)

    def detach(self, channel: str, listener: Any) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    async def history(self, channel: str, epoch: str, after: Any, upto: Any) -> None:
        return None

    def deliver(self, epoch: str, number: int, position: int | None = None) -> None:
        place = (number if position is None else position,)
        event = ServerSentEvent(str(number), id=format_event_id(epoch, place))
        for listener in self.listeners:
            listener.deliver(Record(epoch, place, number, event, False))


def test_events_that_never_reached_the_process_and_replaced_histories_are_said() -> None:
    async def scenario() -> None:
        feed = FeedByHand()
        async with Broadcast(feed) as broadcast, broadcast.subscribe("c") as subscription:
            feed.deliver("a" * 12, 2)
            feed.deliver("a" * 12, 5)  # 3 and 4 never came
            feed.deliver("b" * 12, 1)  # a new history, from its first event
            feed.deliver("c" * 12, 7)  # another, joined late
            # The broker went back to an older snapshot: later positions, numbers counted again.
            feed.deliver("c" * 12, 4, position=8)
            events = await take(subscription, 9)
        assert [event.data for event in events[::2]] == ["2", "5", "1", "7", "4"]
        lost, first_reset, second_reset = events[1], events[3], events[5]
        assert gap_data(lost) == {"reason": "lost", "last_event_id": None, "dropped": 2}
        assert lost.id is None
        assert gap_data(first_reset)["reason"] == "reset"
        assert first_reset.id == "b" * 12 + "-0"  # just before the new history's first event
        assert gap_data(second_reset)["reason"] == "reset"
        assert second_reset.id is None  # its first events are lost: no position to give
        rolled_back = events[7]
        assert gap_data(rolled_back) == {"reason": "reset", "last_event_id": None}

    anyio.run(scenario)


def test_a_subscription_closed_while_it_attaches_leaves_nothing_attached(backend: str) -> None:
    async def scenario() -> None:
        memory = MemoryBackend()
        async with Broadcast(memory) as broadcast:
            subscription = broadcast.subscribe("racy")
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(subscription.__aenter__)
                # One turn: the other task starts, and attach yields before it registers.
                await anyio.lowlevel.checkpoint()
                await subscription.aclose()
            assert memory.statistics().listeners == 0
            with pytest.raises(StopAsyncIteration):
                await anext(subscription)

    anyio.run(scenario, backend=backend)
