"""EventSourceResponse's content of every kind: sync generators in a worker thread, a data
sender with a memory stream, and content that is not iterable.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from support.scripted_asgi import Client, run

from sse_starlette_binding import EventSourceResponse

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_a_sync_generator_runs_in_a_worker_thread_and_is_closed_on_disconnect(
    backend: str,
) -> None:
    client = Client()
    threads: list[threading.Thread] = []
    closed = threading.Event()

    def blocking() -> Iterator[str]:
        threads.append(threading.current_thread())
        try:
            while True:
                yield "tick"
                closed.wait(0.02)  # a blocking call: fine in a worker thread
        finally:
            closed.set()

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, EventSourceResponse(blocking(), ping=0))
            await client.body_arrived.wait()
            client.disconnect_now.set()

    run(backend, scenario)
    assert threads[0] is not threading.main_thread()
    assert closed.is_set()
    assert client.completed


def test_push_model_with_a_data_sender_and_a_memory_stream(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        sender, receiver = anyio.create_memory_object_stream[dict[str, Any]](10)

        async def push() -> None:
            async with sender:
                for n in range(3):
                    await sender.send({"event": "n", "data": n})
                    await anyio.sleep(0.01)

        await client.run(EventSourceResponse(receiver, data_sender_callable=push, ping=0))

    run(backend, scenario)
    assert [(e.event, e.data) for e in client.events()] == [("n", "0"), ("n", "1"), ("n", "2")]
    assert client.completed


def test_a_failing_data_sender_ends_the_stream_it_feeds(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()

    async def scenario() -> None:
        sender, receiver = anyio.create_memory_object_stream[str](10)

        async def push() -> None:
            await sender.send("first")
            raise RuntimeError("feed broke")  # and the sender is never closed

        response = EventSourceResponse(receiver, data_sender_callable=push, ping=0)
        await client.run(response)
        with sender, pytest.raises(anyio.BrokenResourceError):
            sender.send_nowait("too late")  # the response closed its end

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert [e.data for e in client.events()] == ["first"]
    assert client.completed
    assert "feed broke" in str(caplog.records[0].exc_info[1])  # type: ignore[index]


def test_content_that_is_not_iterable_is_refused_up_front(backend: str) -> None:
    del backend
    with pytest.raises(TypeError, match="content must be an iterable"):
        EventSourceResponse(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not str"):
        EventSourceResponse("data: x\n\n")
