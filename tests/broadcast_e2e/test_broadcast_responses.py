"""A subscription given as it is to the Starlette binding's `EventSourceResponse`, in process."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.routing import Route

from sse_broadcast import Broadcast, MemoryBackend
from sse_core import EventParser
from sse_starlette_binding import EventSourceResponse, last_event_id
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from starlette.types import Message


def make_app(broadcast: Broadcast) -> Starlette:
    async def events(request: object) -> EventSourceResponse:
        from starlette.requests import Request  # noqa: PLC0415 (typing only)

        assert isinstance(request, Request)
        channel = request.query_params["channel"]
        subscription = broadcast.subscribe(
            channel,
            last_event_id=last_event_id(request),
            from_start=request.query_params.get("from_start") == "1",
        )
        return EventSourceResponse(subscription, ping=0)

    return Starlette(routes=[Route("/events", events)])


def test_a_response_streams_the_replay_then_live_events_with_their_ids(backend: str) -> None:
    async def scenario() -> None:
        memory = MemoryBackend()
        async with Broadcast(memory) as broadcast, EventStreamClient(make_app(broadcast)) as client:
            first = await broadcast.publish("news", "one")
            second = await broadcast.publish("news", {"event": "headline", "data": {"n": 2}})
            async with client.stream("/events?channel=news", last_event_id=first) as stream:
                (replayed,) = await stream.collect(max_events=1)
                assert (replayed.event, replayed.data, replayed.id) == (
                    "headline",
                    '{"n":2}',
                    second,
                )
                third = await broadcast.publish("news", "three")
                (live,) = await stream.collect(max_events=1)
                assert (live.data, live.id) == ("three", third)
                assert memory.statistics("news").listeners == 1
            # Leaving the block disconnected the client: the response closed the subscription,
            # which detached it.
            assert memory.statistics("news").listeners == 0
            assert stream.last_event_id == third

    anyio.run(scenario, backend=backend)


def test_the_final_event_completes_the_response(backend: str) -> None:
    async def scenario() -> None:
        memory = MemoryBackend()
        async with Broadcast(memory) as broadcast, EventStreamClient(make_app(broadcast)) as client:
            # From the start: the run may begin before the response subscribes.
            async with client.stream("/events?channel=run&from_start=1") as stream:
                await broadcast.publish("run", "token")
                await broadcast.publish("run", {"event": "done", "data": ""}, final=True)
                events = await stream.collect()  # until the response ends
                assert stream.complete
            assert [(event.event, event.data) for event in events] == [
                ("message", "token"),
                ("done", ""),
            ]
            assert memory.statistics().listeners == 0

    anyio.run(scenario, backend=backend)


def test_events_a_subscriber_holds_leave_in_one_body_message(backend: str) -> None:
    """The response takes what a subscription already holds with its `receive_nowait`, as it
    does a memory stream's backlog: a subscriber woken by a burst writes it in one message."""
    messages: list[bytes] = []

    async def scenario() -> None:
        async with Broadcast() as broadcast:
            subscription = broadcast.subscribe("burst")
            await subscription.__aenter__()  # attached: every event below reaches it
            for n in range(50):
                await broadcast.publish("burst", f"event {n}")
            await broadcast.publish("burst", "end", final=True)

            async def receive() -> Message:
                await anyio.sleep_forever()
                raise AssertionError("unreachable")

            async def send(message: Message) -> None:
                body = message.get("body")
                if isinstance(body, bytes) and body:
                    messages.append(body)

            response = EventSourceResponse(subscription, ping=0)
            with anyio.fail_after(5):
                await response({"type": "http", "method": "GET"}, receive, send)

    anyio.run(scenario, backend=backend)
    events = [event.data for event in EventParser().feed(b"".join(messages))]
    assert events == [f"event {n}" for n in range(50)] + ["end"]
    # The first event is taken by iterating, and everything held behind it goes with it.
    assert len(messages) == 1, [len(body) for body in messages]
