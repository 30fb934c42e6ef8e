"""EventSourceResponse called directly as an ASGI app, under asyncio and trio.

Each test drives the response with a scripted `receive` and a recording `send`, so it can see
every ASGI message (how many body messages, whether the response was completed) and decide
exactly when the client "disconnects". Real servers are exercised in test_servers.py.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from support.scripted_asgi import LIMIT, Client, finite, run

from sse_core import EventParser
from sse_core import ServerSentEvent as CoreEvent
from sse_starlette_binding import (
    EventSourceResponse,
    JSONServerSentEvent,
    SendTimeoutError,
    ServerSentEvent,
    notify_shutdown,
)
from sse_starlette_binding._delivery import PENDING_EVENTS, PLAIN_AWAITS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from starlette.types import Message

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


async def hello_then_idle(cleanups: list[str]) -> AsyncIterator[str]:
    """Says "hello", then waits forever (ignoring any shutdown event); records its cleanup."""
    try:
        yield "hello"
        await anyio.sleep_forever()
    finally:
        cleanups.append("done")


# Wire format and headers


def test_items_are_written_with_sse_starlettes_separator_and_field_order(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        items = [
            "plain text",
            {"event": "update", "id": "7", "data": {"n": 1}, "retry": 1000},
            ServerSentEvent("a\nb", event="multi", comment="note"),
            JSONServerSentEvent({"ok": True}),
            CoreEvent("core"),
            b"data: pre-encoded\r\n\r\n",
        ]
        await client.run(EventSourceResponse(finite(*items), ping=0))

    run(backend, scenario)
    assert client.raw == (
        b"data: plain text\r\n\r\n"
        b'id: 7\r\nevent: update\r\ndata: {"n":1}\r\nretry: 1000\r\n\r\n'
        b": note\r\nevent: multi\r\ndata: a\r\ndata: b\r\n\r\n"
        b'data: {"ok":true}\r\n\r\n'
        b"data: core\r\n\r\n"
        b"data: pre-encoded\r\n\r\n"
    )
    assert client.completed


def test_pydantic_models_and_json_values_are_sent_as_compact_json(backend: str) -> None:
    # Runs in the workspace; skipped where the binding is tested with only its own dependencies.
    pytest.importorskip("pydantic", reason="pydantic is not a dependency of the binding")
    from pydantic import BaseModel  # noqa: PLC0415 (only once pydantic is known to be there)

    class Point(BaseModel):
        x: int
        label: str

    client = Client()

    async def scenario() -> None:
        items = [Point(x=1, label="é"), [1, None, True], 2.5]
        await client.run(EventSourceResponse(finite(*items), ping=0, sep="\n"))

    run(backend, scenario)
    assert client.raw == b'data: {"x":1,"label":"\xc3\xa9"}\n\ndata: [1,null,true]\n\ndata: 2.5\n\n'


def test_the_streams_separator_wins_over_an_events_own(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        event = ServerSentEvent("x\ny", sep="\r\n")
        await client.run(EventSourceResponse(finite(event, "z"), sep="\n", ping=0))

    run(backend, scenario)
    assert client.raw == b"data: x\ndata: y\n\ndata: z\n\n"


def test_headers_suit_an_event_stream_and_cache_control_can_be_overridden(backend: str) -> None:
    default, custom = Client(), Client()

    async def scenario() -> None:
        await default.run(EventSourceResponse(finite("x"), ping=0))
        headers = {"cache-control": "public, max-age=5", "X-Custom": "1"}
        await custom.run(EventSourceResponse(finite("x"), ping=0, headers=headers))

    run(backend, scenario)
    assert default.headers == {
        "cache-control": "no-store",
        "x-accel-buffering": "no",
        "content-type": "text/event-stream; charset=utf-8",
    }
    assert custom.headers["cache-control"] == "public, max-age=5"
    assert custom.headers["x-custom"] == "1"
    assert "connection" not in custom.headers  # hop-by-hop: forbidden in HTTP/2


def test_a_websocket_scope_gets_a_denial_response(backend: str) -> None:
    client = Client(scope_type="websocket")

    async def scenario() -> None:
        await client.run(EventSourceResponse(finite("x"), ping=0, status_code=403))

    run(backend, scenario)
    assert client.messages[0]["type"] == "websocket.http.response.start"
    assert client.messages[0]["status"] == 403
    assert {m["type"] for m in client.messages[1:]} == {"websocket.http.response.body"}
    assert client.raw == b"data: x\r\n\r\n"
    assert client.completed


# Coalescing and flow


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


# Producers of every kind


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


# Disconnect


def test_disconnect_cancels_the_producer_runs_cleanup_and_the_close_handler_once(
    backend: str,
) -> None:
    client = Client()
    cleanups: list[str] = []
    handled: list[Message] = []

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "tick"
                await anyio.sleep(0.01)
        finally:
            cleanups.append("done")

    async def on_close(message: Message) -> None:
        handled.append(message)

    async def scenario() -> None:
        response = EventSourceResponse(endless(), ping=0, client_close_handler_callable=on_close)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, response)
            await client.body_arrived.wait()
            client.disconnect_now.set()

    run(backend, scenario)
    assert cleanups == ["done"]
    assert handled == [{"type": "http.disconnect"}]
    assert client.completed


def test_disconnect_is_noticed_while_the_producer_is_idle(backend: str) -> None:
    client = Client()
    cleanups: list[str] = []

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, EventSourceResponse(hello_then_idle(cleanups), ping=0))
            await client.body_arrived.wait()
            client.disconnect_now.set()

    run(backend, scenario)
    assert cleanups == ["done"]


# Errors


def test_a_producer_error_is_logged_and_the_response_completed(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()

    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise RuntimeError("database went away")

    async def scenario() -> None:
        await client.run(EventSourceResponse(failing(), ping=0))

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: before\r\n\r\n"
    assert client.completed
    [record] = caplog.records
    assert record.exc_info is not None
    assert "database went away" in str(record.exc_info[1])


def test_on_producer_error_turns_the_error_into_a_last_event(backend: str) -> None:
    client = Client()

    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise RuntimeError("boom")

    def to_event(exc: Exception) -> ServerSentEvent:
        return ServerSentEvent(str(exc), event="error")

    async def scenario() -> None:
        await client.run(EventSourceResponse(failing(), ping=0, on_producer_error=to_event))

    run(backend, scenario)
    assert [(e.event, e.data) for e in client.events()] == [
        ("message", "before"),
        ("error", "boom"),
    ]
    assert client.completed


def test_an_invalid_item_ends_the_stream_before_any_of_its_bytes(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    cleanups: list[str] = []

    async def producer() -> AsyncIterator[Any]:
        try:
            yield "fine"
            yield {"id": "a\nb", "data": "injected"}
            yield "never sent"
        finally:
            cleanups.append("done")

    async def scenario() -> None:
        await client.run(EventSourceResponse(producer(), ping=0))

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: fine\r\n\r\n"
    assert cleanups == ["done"]
    assert "invalid 'id' field" in str(caplog.records[0].exc_info[1])  # type: ignore[index]


# Keep-alive


def test_pings_fill_silences_and_events_reset_the_clock(backend: str) -> None:
    client = Client()

    async def slow() -> AsyncIterator[str]:
        yield "one"
        await anyio.sleep(0.25)
        yield "two"
        await anyio.sleep_forever()

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, EventSourceResponse(slow(), ping=0.1))
            await anyio.sleep(0.5)
            client.disconnect_now.set()

    run(backend, scenario)
    kinds = ["ping" if body.startswith(b": ping - ") else body for body in client.bodies]
    first, two = kinds.index(b"data: one\r\n\r\n"), kinds.index(b"data: two\r\n\r\n")
    assert kinds[first + 1 : two] == ["ping", "ping"]
    assert kinds[two + 1 : -1] in (["ping", "ping"], ["ping", "ping", "ping"])
    assert client.completed


def test_a_ping_message_factory_replaces_the_comment(backend: str) -> None:
    client = Client()

    async def idle() -> AsyncIterator[str]:
        await anyio.sleep_forever()
        yield "unreachable"

    async def scenario() -> None:
        response = EventSourceResponse(
            idle(), ping=0.05, ping_message_factory=lambda: ServerSentEvent(comment="alive")
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, response)
            await client.body_arrived.wait()
            client.disconnect_now.set()

    run(backend, scenario)
    assert client.bodies[0] == b": alive\r\n\r\n"


def test_a_failing_ping_factory_ends_the_stream_cleanly(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    cleanups: list[str] = []

    def broken_ping() -> ServerSentEvent:
        raise RuntimeError("no ping today")

    async def scenario() -> None:
        await client.run(
            EventSourceResponse(
                hello_then_idle(cleanups), ping=0.05, ping_message_factory=broken_ping
            )
        )

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: hello\r\n\r\n"
    assert client.completed
    assert cleanups == ["done"]
    assert "no ping today" in str(caplog.records[0].exc_info[1])  # type: ignore[index]


def test_a_failing_error_hook_is_logged_and_the_stream_still_completes(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()

    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise RuntimeError("first failure")

    def broken_hook(exc: Exception) -> ServerSentEvent:
        raise ValueError("second failure")

    async def scenario() -> None:
        await client.run(EventSourceResponse(failing(), ping=0, on_producer_error=broken_hook))

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: before\r\n\r\n"
    assert client.completed
    assert [str(record.exc_info[1]) for record in caplog.records if record.exc_info] == [
        "first failure",
        "second failure",
    ]


# Slow clients


def test_a_client_that_stops_reading_is_dropped_after_send_timeout(backend: str) -> None:
    cleanups: list[str] = []
    stuck = anyio.Event()

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "x" * 1000
                await anyio.sleep(0)
        finally:
            cleanups.append("done")

    async def blocking_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await stuck.wait()  # the client's window is full and stays full

    async def never_disconnects() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def scenario() -> None:
        response = EventSourceResponse(endless(), ping=0, send_timeout=0.1)
        with anyio.fail_after(LIMIT), pytest.raises(SendTimeoutError, match=r"within 0\.1 seconds"):
            await response({"type": "http", "method": "GET"}, never_disconnects, blocking_send)

    run(backend, scenario)
    assert cleanups == ["done"]


# Shutdown


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


# Held headers and the stream's retry


class Refused(Exception):
    """What a producer raises before its first event in these tests (an HTTP 404, say)."""


NOTHING: tuple[str, ...] = ()  # iterated by producers that must be generators yet yield nothing


def test_held_headers_let_an_error_before_the_first_event_escape(backend: str) -> None:
    client = Client()
    cleanups: list[str] = []

    async def refuses() -> AsyncIterator[str]:
        try:
            await anyio.sleep(0.01)  # a lookup that fails
            for never in NOTHING:
                yield never
            raise Refused("no such conversation")
        finally:
            cleanups.append("closed")

    async def scenario() -> None:
        with pytest.raises(Refused, match="no such conversation"):
            await client.run(EventSourceResponse(refuses(), ping=0, hold_headers=True))

    run(backend, scenario)
    assert client.messages == []  # nothing was sent, so the framework can send an error status
    assert cleanups == ["closed"]


def test_held_headers_go_out_with_the_first_event_and_later_errors_end_the_stream(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()

    async def fails_later() -> AsyncIterator[str]:
        await anyio.sleep(0.01)
        yield "first"
        await anyio.sleep(0.01)
        raise Refused("too late for a status")

    async def scenario() -> None:
        await client.run(EventSourceResponse(fails_later(), ping=0, hold_headers=True))

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.messages[0]["type"] == "http.response.start"
    assert client.raw == b"data: first\r\n\r\n"
    assert client.completed
    assert "too late for a status" in str(caplog.records[0].exc_info[1])  # type: ignore[index]


def test_held_headers_go_out_with_the_first_ping_of_a_quiet_stream(backend: str) -> None:
    client = Client()

    async def quiet() -> AsyncIterator[str]:
        await anyio.sleep(0.15)
        for never in NOTHING:
            yield never
        raise Refused("after the ping: logged, not raised")

    async def scenario() -> None:
        await client.run(EventSourceResponse(quiet(), ping=0.05, hold_headers=True))

    run(backend, scenario)
    assert client.messages[0]["type"] == "http.response.start"
    assert client.bodies[0].startswith(b": ping - ")
    assert client.completed


def test_held_headers_of_an_empty_stream_go_out_with_its_end(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        await client.run(EventSourceResponse(finite(), ping=0, hold_headers=True))

    run(backend, scenario)
    assert [m["type"] for m in client.messages] == ["http.response.start", "http.response.body"]
    assert client.completed


def test_held_headers_and_a_failing_data_sender_escape_before_the_first_event(
    backend: str,
) -> None:
    client = Client()

    async def scenario() -> None:
        sender, receiver = anyio.create_memory_object_stream[str](10)

        async def push() -> None:
            raise Refused("the sender refused")

        response = EventSourceResponse(
            receiver, data_sender_callable=push, ping=0, hold_headers=True
        )
        with sender, pytest.raises(Refused, match="the sender refused"):
            await client.run(response)

    run(backend, scenario)
    assert client.messages == []


@pytest.mark.parametrize("hold_headers", [False, True])
def test_retry_is_sent_first(backend: str, hold_headers: bool) -> None:
    client = Client()

    async def late() -> AsyncIterator[str]:
        await anyio.sleep(0.02)
        yield "event"

    async def scenario() -> None:
        response = EventSourceResponse(late(), ping=0, retry=2500, hold_headers=hold_headers)
        await client.run(response)

    run(backend, scenario)
    assert client.raw == b"retry: 2500\r\n\r\ndata: event\r\n\r\n"
    parser = EventParser()
    assert [e.data for e in parser.feed(client.raw)] == ["event"]
    assert parser.retry == 2500


# Parameters


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sep": "\n\n"}, ValueError, "sep must be one of"),
        ({"ping": -1}, ValueError, "ping must be >= 0"),
        ({"ping": "15"}, TypeError, "ping must be a number"),
        ({"send_timeout": float("nan")}, ValueError, "send_timeout must be >= 0"),
        ({"shutdown_grace_period": -0.5}, ValueError, "shutdown_grace_period must be >= 0"),
        ({"cleanup_timeout": -1}, ValueError, "cleanup_timeout must be >= 0"),
        ({"retry": -1}, ValueError, "retry"),
        ({"retry": True}, TypeError, "retry"),
    ],
)
def test_bad_parameters_are_refused_with_their_name(
    backend: str, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    del backend
    with pytest.raises(error, match=message):
        EventSourceResponse(finite(), **kwargs)
