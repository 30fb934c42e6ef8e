"""A write the client never takes, then the client leaves: the response must still return.

Whichever message is stuck (the headers, an event written by the request task, events gathered
and written for a waiting producer, a keep-alive ping, the final message), the disconnect that
follows cancels it, stops the producer, runs its cleanup (bounded by `cleanup_timeout`) and the
close handler once, and the response returns. Starlette's own `StreamingResponse` and
sse-starlette behave so, and code migrated from them relies on it. A real server is exercised
by test_servers.py; here a scripted client stalls on a chosen message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import pytest
from support.scripted_asgi import LIMIT, StallingClient, body_containing, is_final, is_start, run

from sse_starlette_binding import EventSourceResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from starlette.types import Message

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


class Recorder:
    """What a producer and the response's hooks report back to a test."""

    def __init__(self) -> None:
        self.started = False
        self.cleanups = 0
        self.close_messages: list[Message] = []

    async def on_close(self, message: Message) -> None:
        self.close_messages.append(message)

    async def events(self, *ready: str, then_wait: bool = True) -> AsyncIterator[str]:
        """Yields `ready` without waiting, then waits forever (or ends)."""
        self.started = True
        try:
            for item in ready:
                yield item
            if then_wait:
                await anyio.sleep_forever()
        finally:
            self.cleanups += 1

    async def paced(self) -> AsyncIterator[str]:
        """Waits a moment before each event, so the request task writes each one itself."""
        self.started = True
        try:
            for n in range(1000):
                await anyio.sleep(0)
                yield f"event {n}"
        finally:
            self.cleanups += 1


def stalled_then_left(
    backend: str, stalls_on: Callable[[Message], bool], response: Callable[[], EventSourceResponse]
) -> StallingClient:
    client = StallingClient(stalls_on)

    async def scenario() -> None:
        await client.leave_when_stalled(response())

    run(backend, scenario)  # returns only if no send is left blocked
    assert client.cancelled >= 1, "no send was stuck"
    return client


def test_a_stuck_event_written_by_the_request_task(backend: str) -> None:
    recorder = Recorder()
    client = stalled_then_left(
        backend,
        body_containing(b"event 2"),
        lambda: EventSourceResponse(
            recorder.paced(), ping=0, client_close_handler_callable=recorder.on_close
        ),
    )
    assert [e.data for e in client.events()] == ["event 0", "event 1"]
    assert recorder.cleanups == 1
    assert recorder.close_messages == [{"type": "http.disconnect"}]


def test_stuck_events_gathered_for_a_waiting_producer(backend: str) -> None:
    # "a" is written at once; "b" and "c" are ready together and gathered, then written by the
    # listener task while the producer waits: that write is the one that sticks.
    recorder = Recorder()
    client = stalled_then_left(
        backend,
        body_containing(b"data: b"),
        lambda: EventSourceResponse(
            recorder.events("a", "b", "c"), ping=0, client_close_handler_callable=recorder.on_close
        ),
    )
    assert [e.data for e in client.events()] == ["a"]
    assert recorder.cleanups == 1
    assert recorder.close_messages == [{"type": "http.disconnect"}]


def test_a_stuck_keep_alive_ping(backend: str) -> None:
    recorder = Recorder()
    client = stalled_then_left(
        backend,
        body_containing(b": ping"),
        lambda: EventSourceResponse(
            recorder.events("hello"), ping=0.05, client_close_handler_callable=recorder.on_close
        ),
    )
    assert [e.data for e in client.events()] == ["hello"]
    assert recorder.cleanups == 1
    assert recorder.close_messages == [{"type": "http.disconnect"}]


def test_a_stuck_final_message(backend: str) -> None:
    recorder = Recorder()
    client = stalled_then_left(
        backend,
        is_final,
        lambda: EventSourceResponse(
            recorder.events("only", then_wait=False),
            ping=0,
            client_close_handler_callable=recorder.on_close,
        ),
    )
    assert [e.data for e in client.events()] == ["only"]
    assert recorder.cleanups == 1
    assert recorder.close_messages == [{"type": "http.disconnect"}]


def test_stuck_headers_never_start_the_producer(backend: str) -> None:
    recorder = Recorder()
    client = stalled_then_left(
        backend,
        is_start,
        lambda: EventSourceResponse(
            recorder.events("never"), ping=0, client_close_handler_callable=recorder.on_close
        ),
    )
    assert client.messages == []
    assert not recorder.started
    assert recorder.close_messages == [{"type": "http.disconnect"}]


@pytest.mark.parametrize("buffer_size", [0, 1, 10])
def test_a_data_sender_feeding_a_stuck_stream_ends_by_cancellation(
    backend: str, buffer_size: int
) -> None:
    """sse-starlette's push pattern: `data_sender_callable` writes into a memory object stream
    that is the content. When the client stalls and then leaves, the sender is cancelled where
    it waits; it never sees `BrokenResourceError`, and nothing escapes the response."""
    outcomes: list[str] = []

    async def scenario() -> None:
        sender, receiver = anyio.create_memory_object_stream[str](buffer_size)

        async def push() -> None:
            try:
                async with sender:
                    for n in range(10_000):
                        await sender.send(f"event {n}")
                outcomes.append("finished")
            except anyio.get_cancelled_exc_class():
                outcomes.append("cancelled")
                raise
            except BaseException as exc:
                outcomes.append(repr(exc))
                raise

        client = StallingClient(body_containing(b"event 5"))
        await client.leave_when_stalled(
            EventSourceResponse(receiver, data_sender_callable=push, ping=0)
        )
        assert client.cancelled >= 1

    run(backend, scenario)
    assert outcomes == ["cancelled"]


# The producer is suspended at the `yield` whose event is stuck, so closing it (bounded by
# `cleanup_timeout`) is what runs its `finally`.


def test_a_cleanup_with_no_timeout_runs_to_its_end_without_a_warning(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    cleanup_steps: list[str] = []

    async def slow_cleanup() -> AsyncIterator[str]:
        try:
            while True:
                yield "x"
        finally:
            cleanup_steps.append("begun")
            await anyio.sleep(0.2)  # longer than any scheduling hiccup, well under LIMIT
            cleanup_steps.append("ended")

    with caplog.at_level(logging.WARNING, logger="sse_starlette_binding"):
        stalled_then_left(
            backend,
            body_containing(b"data: x"),
            lambda: EventSourceResponse(slow_cleanup(), ping=0, cleanup_timeout=None),
        )
    assert cleanup_steps == ["begun", "ended"]
    assert [r.getMessage() for r in caplog.records] == []


def test_a_cleanup_over_its_timeout_is_abandoned_with_the_usual_warning(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    cleanup_steps: list[str] = []

    async def hanging_cleanup() -> AsyncIterator[str]:
        try:
            while True:
                yield "x"
        finally:
            cleanup_steps.append("begun")
            await anyio.sleep(LIMIT)
            cleanup_steps.append("ended")

    with caplog.at_level(logging.WARNING, logger="sse_starlette_binding"):
        stalled_then_left(
            backend,
            body_containing(b"data: x"),
            lambda: EventSourceResponse(hanging_cleanup(), ping=0, cleanup_timeout=0.05),
        )
    assert cleanup_steps == ["begun"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["the event stream's producer took over 0.05 seconds to close; abandoned it"]
