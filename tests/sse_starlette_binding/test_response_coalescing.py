"""EventSourceResponse's writes: events ready together leave in one body message, a lone
ready event is never held back, and a fast producer neither runs ahead nor starves others.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

import anyio
import pytest
from support.scripted_asgi import LIMIT, Client, finite, run

from sse_starlette_binding import EventSourceResponse
from sse_starlette_binding._batch import PENDING_EVENTS
from sse_starlette_binding._delivery import PLAIN_AWAITS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import Message

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_events_ready_together_leave_in_one_body_message(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        await client.run(EventSourceResponse(finite(*map(str, range(100))), ping=0))

    run(backend, scenario)
    # The first is written at once: when it was ready, nothing said that more were coming. The
    # others were gathered, and as the producer ended right after them, they ride on the
    # message that completes the response.
    assert client.bodies == [
        b"data: 0\r\n\r\n",
        b"".join(b"data: %d\r\n\r\n" % n for n in range(1, 100)),
    ]
    assert client.completed


def test_a_lone_ready_event_is_written_before_the_producer_goes_on(backend: str) -> None:
    # An event the producer yields without waiting may be the only one for a long time: it
    # goes out at once, not once the producer has moved on to its next wait.
    client = Client()
    log: list[str] = []
    resumed = anyio.Event()

    async def producer() -> AsyncIterator[str]:
        yield "lone"
        log.append("producer resumed")
        resumed.set()
        await anyio.sleep_forever()
        yield "never"  # pragma: no cover

    async def send(message: Message) -> None:
        if message.get("body"):
            log.append(f"sent {message['body']!r}")
        await client.send(message)

    async def scenario() -> None:
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(
                EventSourceResponse(producer(), ping=0), client.scope, client.receive, send
            )
            with anyio.fail_after(LIMIT):
                await resumed.wait()
            client.disconnect_now.set()

    run(backend, scenario)
    assert log == ["sent b'data: lone\\r\\n\\r\\n'", "producer resumed"]


def test_a_write_gathers_at_most_pending_events_events(backend: str) -> None:
    # A producer that never waits lets others run after each write; the events of one write
    # are taken with nobody else running, so a write holds a bounded number of them.
    client = Client()
    count = 3 * PENDING_EVENTS + 10

    async def scenario() -> None:
        await client.run(EventSourceResponse(finite(*["x"] * count), ping=0))

    run(backend, scenario)
    assert len(client.events()) == count
    per_body = [body.count(b"data: ") for body in client.bodies]
    assert max(per_body) == PENDING_EVENTS
    assert len(per_body) >= count // PENDING_EVENTS
    assert client.completed


def test_a_producer_that_turns_fast_after_waiting_is_gathered_again(backend: str) -> None:
    # After waits, events are taken with plain awaits for a while (PLAIN_AWAITS of them), each
    # written at once; then the response looks again and gathers what comes ready.
    client = Client()

    async def producer() -> AsyncIterator[str]:
        for n in range(3):
            await anyio.sleep(0)
            yield f"waited {n}"
        for n in range(200):
            yield f"ready {n}"

    async def scenario() -> None:
        await client.run(EventSourceResponse(producer(), ping=0))

    run(backend, scenario)
    assert len(client.events()) == 203
    assert len(client.bodies) <= 3 + PLAIN_AWAITS + 2
    assert client.completed


def test_a_memory_stream_backlog_leaves_in_one_body_message(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        sender, receiver = anyio.create_memory_object_stream[str](100)
        with sender:
            for n in range(100):
                sender.send_nowait(str(n))
        await client.run(EventSourceResponse(receiver, ping=0))

    run(backend, scenario)
    assert len(client.bodies) == 2
    assert len(client.events()) == 100


def test_a_ready_event_is_sent_while_the_producer_waits_for_the_next(backend: str) -> None:
    client = Client()

    async def producer() -> AsyncIterator[str]:
        yield "first"
        # The next event depends on the client having seen the first: if the response held
        # "first" back to batch it with more, this would wait until the scenario times out.
        await client.body_arrived.wait()
        yield "second"

    async def scenario() -> None:
        await client.run(EventSourceResponse(producer(), ping=0))

    run(backend, scenario)
    assert client.bodies == [b"data: first\r\n\r\n", b"data: second\r\n\r\n", b""]


def test_producers_keep_their_own_timeouts_task_groups_and_context(backend: str) -> None:
    # The response steps the producer by hand to see whether its next event is ready; what the
    # producer does between events (timeouts, task groups, context variables) must not notice.
    client = Client()
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    async def producer() -> AsyncIterator[str]:
        request_id.set("r-1")
        for n in range(3):
            with anyio.move_on_after(0.01) as scope:
                await anyio.sleep(5)
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.sleep, 0)
            yield f"{n} {scope.cancelled_caught} {request_id.get()}"
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.01):
                await anyio.sleep(5)
        yield "done"

    async def scenario() -> None:
        await client.run(EventSourceResponse(producer(), ping=0))

    run(backend, scenario)
    assert [e.data for e in client.events()] == [
        "0 True r-1",
        "1 True r-1",
        "2 True r-1",
        "done",
    ]
    assert client.bodies[-1] == b""  # each event left at once; the last message only completes


def test_a_producer_far_ahead_of_the_client_is_held_to_bounded_writes(backend: str) -> None:
    client = Client()
    event = "x" * 1000

    async def scenario() -> None:
        await client.run(EventSourceResponse(finite(*[event] * 1000), ping=0))

    run(backend, scenario)
    sizes = [len(body) for body in client.bodies]
    assert sum(sizes) == 1000 * len(b"data: \r\n\r\n" + event.encode())
    assert len(sizes) > 10
    assert max(sizes) <= 64 * 1024 + 1010


def test_a_producer_that_never_awaits_does_not_starve_other_tasks(backend: str) -> None:
    client = Client()
    ticks = []

    async def greedy() -> AsyncIterator[str]:
        while True:
            yield "x" * 100

    async def ticker() -> None:
        while True:
            ticks.append(anyio.current_time())
            await anyio.sleep(0.01)

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            tg.start_soon(client.run, EventSourceResponse(greedy(), ping=0))
            await anyio.sleep(0.3)
            client.disconnect_now.set()
            await anyio.sleep(0.05)
            tg.cancel_scope.cancel()

    run(backend, scenario)
    assert len(ticks) >= 10
    assert client.completed
