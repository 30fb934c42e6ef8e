"""Shutdown notices: chained in front of the server's signal handler, delivered to each open
stream on its own event loop, and gone once the streams are. No global state ties the binding
to one loop, one thread or one server (the class of bugs behind sse-starlette #59, #140, #211).
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sse_starlette_binding import EventSourceResponse, notify_shutdown
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import FrameType

    from starlette.types import Receive, Scope, Send


def endless_app(cleanups: list[str], label: str, started: list[str] | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def endless() -> AsyncIterator[str]:
            if started is not None:
                started.append(label)
            try:
                while True:
                    yield label
                    await anyio.sleep(0.01)
            finally:
                cleanups.append(label)

        await EventSourceResponse(endless(), ping=0)(scope, receive, send)

    return app


async def stream_until_shutdown(app: Any) -> bool:
    """Read the app's stream until it ends by itself; True if it ended complete."""
    async with EventStreamClient(app) as client, client.stream("/") as stream:
        await stream.collect(timeout=3)
        return stream.complete


@pytest.fixture
def server_handler() -> Iterator[list[int]]:
    """Installs a SIGTERM handler the way a server does, and restores the original after."""
    received: list[int] = []

    def handle_exit(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    original = signal.signal(signal.SIGTERM, handle_exit)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, original)


def test_sigterm_ends_open_streams_and_still_reaches_the_servers_handler(
    backend: str, server_handler: list[int]
) -> None:
    cleanups: list[str] = []
    started: list[str] = []

    async def scenario() -> list[bool]:
        results: list[bool] = []

        async def run_one(label: str) -> None:
            results.append(await stream_until_shutdown(endless_app(cleanups, label, started)))

        async with anyio.create_task_group() as tg:
            for label in ("a", "b"):
                tg.start_soon(run_one, label)
            with anyio.fail_after(3):
                while len(started) < 2:
                    await anyio.sleep(0.01)
            signal.raise_signal(signal.SIGTERM)
        return results

    assert anyio.run(scenario, backend=backend) == [True, True]
    assert sorted(cleanups) == ["a", "b"]
    assert server_handler == [signal.SIGTERM]


def test_default_signal_dispositions_are_left_alone(backend: str) -> None:
    original = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:

        async def scenario() -> None:
            app = endless_app([], "x")
            async with EventStreamClient(app) as client, client.stream("/") as stream:
                await stream.collect(max_events=1)
                assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

        anyio.run(scenario, backend=backend)
    finally:
        signal.signal(signal.SIGTERM, original)


def test_streams_on_loops_in_other_threads_each_hear_the_notice() -> None:
    cleanups: list[str] = []
    results: dict[str, bool] = {}
    started = threading.Barrier(4, timeout=5)

    def serve(label: str, backend: str) -> None:
        async def scenario() -> None:
            async def read() -> None:
                results[label] = await stream_until_shutdown(endless_app(cleanups, label))

            async with anyio.create_task_group() as tg:
                tg.start_soon(read)
                await anyio.sleep(0.1)
                await anyio.to_thread.run_sync(started.wait)

        anyio.run(scenario, backend=backend)

    threads = [
        threading.Thread(target=serve, args=(f"{backend}-{n}", backend))
        for n, backend in enumerate(["asyncio", "trio", "asyncio"])
    ]
    for thread in threads:
        thread.start()
    started.wait()  # every loop is streaming
    notify_shutdown()
    for thread in threads:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(cleanups) == ["asyncio-0", "asyncio-2", "trio-1"]
    assert all(results.values())
    assert len(results) == 3


def test_each_new_event_loop_streams_normally_after_others_closed(backend: str) -> None:
    # sse-starlette #59/#211: state bound to the first loop (or a shutdown flag nobody resets)
    # broke every later loop in the process. Here each run is independent of the ones before.
    async def one_stream() -> bytes:
        async def two() -> AsyncIterator[str]:
            yield "a"
            yield "b"

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await EventSourceResponse(two(), ping=0)(scope, receive, send)

        async with EventStreamClient(app) as client, client.stream("/") as stream:
            await stream.collect()
            return stream.raw

    for _ in range(3):
        assert anyio.run(one_stream, backend=backend) == b"data: a\r\n\r\ndata: b\r\n\r\n"
        notify_shutdown()  # with no stream open, it reaches nobody and leaves nothing behind
