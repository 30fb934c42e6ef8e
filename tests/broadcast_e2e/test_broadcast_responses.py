"""A subscription given as it is to the Starlette binding's `EventSourceResponse`, in process."""

from __future__ import annotations

import anyio
from starlette.applications import Starlette
from starlette.routing import Route

from sse_broadcast import Broadcast, MemoryBackend
from sse_starlette_binding import EventSourceResponse, last_event_id
from sse_starlette_binding.testing import EventStreamClient


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
