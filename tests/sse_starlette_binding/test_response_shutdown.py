"""EventSourceResponse on server shutdown: every open stream ends and completes, cooperatively
within a grace period, and a cleanup over `cleanup_timeout` is abandoned with a warning.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import pytest
from support.scripted_asgi import LIMIT, Client, finite, hello_then_idle, run

from sse_starlette_binding import EventSourceResponse, notify_shutdown

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_shutdown_stops_every_open_stream_and_completes_its_response(backend: str) -> None:
    clients = [Client() for _ in range(3)]
    cleanups: list[int] = []

    async def endless(n: int) -> AsyncIterator[str]:
        try:
            while True:
                yield f"stream {n}"
                await anyio.sleep(0.01)
        finally:
            cleanups.append(n)

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            for n, client in enumerate(clients):
                tg.start_soon(client.run, EventSourceResponse(endless(n), ping=0))
            for client in clients:
                await client.body_arrived.wait()
            notify_shutdown()

    run(backend, scenario)
    assert sorted(cleanups) == [0, 1, 2]
    assert all(client.completed for client in clients)


def test_cooperative_shutdown_lets_the_producer_say_goodbye(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        shutting_down = anyio.Event()

        async def polite() -> AsyncIterator[str]:
            yield "hello"
            await shutting_down.wait()
            yield "goodbye"

        response = EventSourceResponse(
            polite(), ping=0, shutdown_event=shutting_down, shutdown_grace_period=5
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, response)
            await client.body_arrived.wait()
            notify_shutdown()

    run(backend, scenario)
    assert [e.data for e in client.events()] == ["hello", "goodbye"]
    assert client.completed


def test_the_grace_period_ends_with_cancellation(backend: str) -> None:
    client = Client()
    cleanups: list[str] = []

    async def scenario() -> None:
        response = EventSourceResponse(
            hello_then_idle(cleanups),
            ping=0,
            shutdown_event=anyio.Event(),
            shutdown_grace_period=0.1,
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, response)
            await client.body_arrived.wait()
            started = anyio.current_time()
            notify_shutdown()
        assert 0.1 <= anyio.current_time() - started < 1

    run(backend, scenario)
    assert cleanups == ["done"]
    assert client.completed


def test_a_shutdown_notice_after_the_stream_ended_changes_nothing(backend: str) -> None:
    first, second = Client(), Client()

    async def scenario() -> None:
        await first.run(EventSourceResponse(finite("a"), ping=0))
        notify_shutdown()
        await second.run(EventSourceResponse(finite("b"), ping=0))

    run(backend, scenario)
    assert second.raw == b"data: b\r\n\r\n"
    assert second.completed


@pytest.mark.parametrize("swallows_cancellation", [False, True])
def test_a_cleanup_over_cleanup_timeout_is_abandoned_with_a_warning(
    backend: str, swallows_cancellation: bool, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()

    async def slow_to_close() -> AsyncIterator[str | None]:
        try:
            yield "hello"
            yield None  # invalid: the stream ends, and closing the generator runs its cleanup
        finally:
            try:
                await anyio.sleep(LIMIT)  # a cleanup that hangs
            except anyio.get_cancelled_exc_class():
                if not swallows_cancellation:
                    raise
                # returns quietly: cut short all the same

    async def scenario() -> None:
        await client.run(EventSourceResponse(slow_to_close(), ping=0, cleanup_timeout=0.05))

    with caplog.at_level(logging.WARNING, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: hello\r\n\r\n"
    assert client.completed
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["the event stream's producer took over 0.05 seconds to close; abandoned it"]
