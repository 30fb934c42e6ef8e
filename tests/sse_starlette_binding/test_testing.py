"""sse_starlette_binding.testing: the clients that read event streams back, under asyncio and trio.

The in-process client is exercised against small Starlette apps and raw ASGI apps; the URL
client against scripted HTTP/1.1 servers on loopback (to pin each body framing) and against a
real uvicorn serving ``_apps.py`` (marked slow).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.abc
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from support.servers import run_server

from sse_core import ParsedEvent
from sse_starlette_binding import EventSourceResponse, last_event_id
from sse_starlette_binding.testing import EventStreamClient, open_event_stream

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    from starlette.requests import Request
    from starlette.types import Message, Receive, Scope, Send

HERE: Final = Path(__file__).resolve().parent
TICKS: Final = [ParsedEvent("tick", str(n), str(n)) for n in range(3)]
TICKS_WIRE: Final = b"".join(
    b"id: %d\r\nevent: tick\r\ndata: %d\r\n\r\n" % (n, n) for n in range(3)
)


def run(backend: str, scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario, backend=backend)


def make_app(log: list[str]) -> Starlette:
    """Endpoints for the in-process tests; the endless ones append "start" and "cleanup"."""

    async def ticks(request: Request) -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, Any]]:
            for n in range(3):
                yield {"event": "tick", "id": str(n), "data": n}

        return EventSourceResponse(events(), ping=0)

    async def endless(request: Request) -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, Any]]:
            log.append("start")
            try:
                n = 0
                while True:
                    yield {"event": "tick", "id": str(n), "data": n}
                    n += 1
                    await anyio.sleep(0.02)
            finally:
                log.append("cleanup")

        return EventSourceResponse(events(), ping=0)

    async def once(request: Request) -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, Any]]:
            log.append("start")
            try:
                yield {"event": "only", "data": "1"}
                await anyio.sleep_forever()
            finally:
                log.append("cleanup")

        return EventSourceResponse(events(), ping=0)

    async def resume(request: Request) -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, Any]]:
            yield {"event": "resume", "data": repr(last_event_id(request))}

        return EventSourceResponse(events(), ping=0)

    async def echo(request: Request) -> EventSourceResponse:
        body = await request.body()

        async def events() -> AsyncIterator[dict[str, Any]]:
            yield {"event": "echo", "data": f"{request.method} {body.decode()}"}

        return EventSourceResponse(events(), ping=0)

    async def boom(request: Request) -> EventSourceResponse:
        raise RuntimeError("boom")

    return Starlette(
        routes=[
            Route("/ticks", ticks, methods=["GET", "HEAD"]),
            Route("/endless", endless),
            Route("/once", once),
            Route("/resume", resume),
            Route("/echo", echo, methods=["POST"]),
            Route("/boom", boom),
        ]
    )


# The in-process client


def test_events_status_and_headers_come_through(backend: str) -> None:
    async def scenario() -> None:
        async with EventStreamClient(make_app([])) as client, client.stream("/ticks") as stream:
            assert stream.status == 200
            assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert stream.headers["cache-control"] == "no-store"
            assert await stream.collect() == TICKS
            assert stream.complete
            assert stream.last_event_id == "2"

    run(backend, scenario)


def test_raw_holds_the_exact_bytes_and_messages_the_asgi_messages(backend: str) -> None:
    async def scenario() -> None:
        async with EventStreamClient(make_app([])) as client, client.stream("/ticks") as stream:
            await stream.collect()
        assert stream.raw == TICKS_WIRE
        assert stream.messages[0]["type"] == "http.response.start"
        bodies = [m for m in stream.messages if m["type"] == "http.response.body"]
        # Three events that were ready together: the first left at once, the other two in one
        # write with the end of the response.
        assert b"".join(m["body"] for m in bodies) == TICKS_WIRE
        assert len([m for m in bodies if m["body"]]) == 2
        assert bodies[-1]["more_body"] is False

    run(backend, scenario)


def test_max_events_stops_and_leaving_the_stream_runs_the_producers_cleanup(
    backend: str,
) -> None:
    log: list[str] = []

    async def scenario() -> None:
        async with EventStreamClient(make_app(log)) as client:
            async with client.stream("/endless") as stream:
                events = await stream.collect(max_events=3)
                assert [event.data for event in events] == ["0", "1", "2"]
                assert log == ["start"]
            assert log == ["start", "cleanup"]
            assert not stream.complete

    run(backend, scenario)


def test_breaking_out_of_events_then_leaving_disconnects(backend: str) -> None:
    log: list[str] = []

    async def scenario() -> None:
        async with EventStreamClient(make_app(log)) as client:
            async with client.stream("/endless") as stream:
                async for event in stream.events():
                    if event.id == "1":
                        break
            assert log == ["start", "cleanup"]

    run(backend, scenario)


def test_a_timeout_on_an_endless_stream_raises_quickly_and_the_producer_is_cleaned_up(
    backend: str,
) -> None:
    log: list[str] = []

    async def scenario() -> None:
        async with EventStreamClient(make_app(log)) as client:
            started = anyio.current_time()
            with pytest.raises(TimeoutError, match=r"did not end within 0\.2 seconds; \d+ events"):
                async with client.stream("/endless") as stream:
                    await stream.collect(timeout=0.2)
            assert anyio.current_time() - started < 2
            assert log == ["start", "cleanup"]

    run(backend, scenario)


def test_a_timeout_before_max_events_says_how_many_arrived(backend: str) -> None:
    log: list[str] = []

    async def scenario() -> None:
        async with EventStreamClient(make_app(log)) as client, client.stream("/once") as stream:
            with pytest.raises(TimeoutError, match=r"^1 of 5 events arrived within 0\.2 seconds"):
                await stream.collect(max_events=5, timeout=0.2)
        assert log == ["start", "cleanup"]

    run(backend, scenario)


def test_stop_at_timeout_returns_what_arrived_by_the_deadline(backend: str) -> None:
    async def scenario() -> None:
        async with EventStreamClient(make_app([])) as client, client.stream("/once") as stream:
            started = anyio.current_time()
            events = await stream.collect(timeout=0.2, stop_at_timeout=True)
            assert anyio.current_time() - started < 2
            assert events == [ParsedEvent("only", "1", "")]

    run(backend, scenario)


def test_events_read_together_but_not_yet_yielded_wait_for_the_next_call(backend: str) -> None:
    async def scenario() -> None:
        async with EventStreamClient(make_app([])) as client, client.stream("/ticks") as stream:
            assert await stream.collect(max_events=1) == TICKS[:1]
            assert await stream.collect(max_events=0) == []
            assert await stream.collect() == TICKS[1:]
            assert await stream.collect() == []

    run(backend, scenario)


@pytest.mark.parametrize("sent_id", ["42", "café-7"])
def test_last_event_id_reaches_the_app(backend: str, sent_id: str) -> None:
    async def scenario() -> None:
        async with EventStreamClient(make_app([])) as client:
            async with client.stream("/resume", last_event_id=sent_id) as stream:
                assert await stream.collect() == [ParsedEvent("resume", repr(sent_id), "")]
            async with client.stream("/resume") as stream:
                assert await stream.collect() == [ParsedEvent("resume", "None", "")]

    run(backend, scenario)


def test_a_post_body_reaches_the_endpoint(backend: str) -> None:
    async def scenario() -> None:
        async with (
            EventStreamClient(make_app([])) as client,
            client.stream("/echo", method="POST", body=b'{"q": "hi"}') as stream,
        ):
            assert await stream.collect() == [ParsedEvent("echo", 'POST {"q": "hi"}', "")]

    run(backend, scenario)


def test_head_gets_headers_and_no_events(backend: str) -> None:
    async def scenario() -> None:
        async with (
            EventStreamClient(make_app([])) as client,
            client.stream("/ticks", method="HEAD") as stream,
        ):
            assert stream.status == 200
            assert await stream.collect() == []
            assert stream.complete
            assert stream.raw == b""

    run(backend, scenario)


def test_an_exception_in_the_app_is_raised_to_the_test(backend: str) -> None:
    async def scenario() -> None:
        async with EventStreamClient(make_app([])) as client:
            with pytest.raises(RuntimeError, match="boom"):
                async with client.stream("/boom") as stream:
                    assert stream.status == 500

    run(backend, scenario)


def test_an_app_that_crashes_mid_stream_raises_when_the_events_are_read(backend: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        raise RuntimeError("crash")

    async def scenario() -> None:
        async with EventStreamClient(app) as client, client.stream("/") as stream:
            with pytest.raises(RuntimeError, match="crash"):
                await stream.collect()
            assert stream.raw == b"data: 1\n\n"
            assert not stream.complete

    run(backend, scenario)


def test_a_send_after_the_disconnect_raises_oserror_as_asgi_2_4_servers_do(backend: str) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # Never calls receive(): like Starlette's StreamingResponse under ASGI 2.4, it learns
        # that the client left from send().
        await send({"type": "http.response.start", "status": 200, "headers": []})
        message = {"type": "http.response.body", "body": b"data: x\n\n", "more_body": True}
        try:
            while True:
                await send(message)
                await anyio.sleep(0.01)
        except OSError:
            seen.append("OSError")
            raise

    async def scenario() -> None:
        async with EventStreamClient(app) as client, client.stream("/") as stream:
            assert len(await stream.collect(max_events=2)) == 2
        assert seen == ["OSError"]

    run(backend, scenario)


def test_an_app_that_ignores_the_disconnect_is_cancelled_and_reported(backend: str) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await anyio.sleep_forever()
        finally:
            seen.append("cancelled")

    async def scenario() -> None:
        async with EventStreamClient(app, timeout=0.2) as client:
            with pytest.raises(TimeoutError, match=r"did not return within 0\.2 seconds"):
                async with client.stream("/"):
                    pass
        assert seen == ["cancelled"]

    run(backend, scenario)


def test_an_app_that_never_starts_a_response_times_out_on_entry(backend: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message: Message = await receive()
        assert message["type"] == "http.request"
        message = await receive()  # returns once the client gives up
        assert message["type"] == "http.disconnect"

    async def scenario() -> None:
        async with EventStreamClient(app, timeout=0.2) as client:
            started = anyio.current_time()
            with pytest.raises(TimeoutError, match=r"did not start a response within 0\.2"):
                async with client.stream("/"):
                    pass  # pragma: no cover
            assert anyio.current_time() - started < 2

    run(backend, scenario)


def test_misuse_is_refused_with_a_clear_error(backend: str) -> None:
    client = EventStreamClient(make_app([]))

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="async with EventStreamClient"):
            async with client.stream("/ticks"):
                pass  # pragma: no cover
        with pytest.raises(ValueError, match="must start with '/'"):
            client.stream("ticks")
        with pytest.raises(ValueError, match="CR, LF or NUL"):
            client.stream("/ticks", headers={"X-Evil": "a\r\nInjected: 1"})
        with pytest.raises(ValueError, match="either as last_event_id or as a header"):
            client.stream("/ticks", headers={"Last-Event-ID": "1"}, last_event_id="2")
        async with client, client.stream("/ticks") as stream:
            with pytest.raises(ValueError, match="timeout must be > 0"):
                stream.events(timeout=0)

    run(backend, scenario)


# The URL client against scripted HTTP/1.1 servers


@contextlib.asynccontextmanager
async def scripted_server(
    handler: Callable[[anyio.abc.SocketStream], Awaitable[None]],
) -> AsyncIterator[str]:
    """Serve `handler` on a free port of 127.0.0.1; yield the base URL."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, handler)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            task_group.cancel_scope.cancel()


async def read_request(connection: anyio.abc.SocketStream) -> bytes:
    """The request's head and body (by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += await connection.receive()
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            while len(body) < int(value):
                body += await connection.receive()
    return data


async def send_in_pieces(connection: anyio.abc.SocketStream, response: bytes) -> None:
    """Send `response` 7 bytes at a time, yielding in between, so framing lines, chunks and
    events arrive split at arbitrary points."""
    for start in range(0, len(response), 7):
        await connection.send(response[start : start + 7])
        await anyio.sleep(0)


def chunked(*pieces: bytes) -> bytes:
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return body + b"0\r\nX-Trailer: 1\r\n\r\n"


HEAD: Final = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
FRAMINGS: Final = {
    "chunked": HEAD
    + b"Transfer-Encoding: chunked\r\n\r\n"
    + chunked(TICKS_WIRE[:10], TICKS_WIRE[10:]),
    "content-length": HEAD + b"Content-Length: %d\r\n\r\n" % len(TICKS_WIRE) + TICKS_WIRE,
    "read-until-close": HEAD + b"\r\n" + TICKS_WIRE,
}


def test_the_url_client_sends_an_event_stream_request(backend: str) -> None:
    requests: list[bytes] = []

    async def handler(connection: anyio.abc.SocketStream) -> None:
        async with connection:
            requests.append(await read_request(connection))
            await connection.send(FRAMINGS["content-length"])

    async def scenario() -> None:
        async with scripted_server(handler) as url:
            async with open_event_stream(f"{url}/events?x=1") as stream:
                assert await stream.collect() == TICKS
            async with open_event_stream(
                f"{url}/post",
                method="POST",
                body=b"hello",
                headers={"Authorization": "Bearer t"},
                last_event_id="café-7",
            ) as stream:
                assert await stream.collect() == TICKS
        port = url.rsplit(":", 1)[1]
        assert requests[0] == (
            b"GET /events?x=1 HTTP/1.1\r\nhost: 127.0.0.1:%s\r\naccept: text/event-stream\r\n\r\n"
            % port.encode()
        )
        head, _, body = requests[1].partition(b"\r\n\r\n")
        assert head.split(b"\r\n") == [
            b"POST /post HTTP/1.1",
            b"host: 127.0.0.1:" + port.encode(),
            b"accept: text/event-stream",
            b"content-length: 5",
            b"authorization: Bearer t",
            "last-event-id: café-7".encode(),
        ]
        assert body == b"hello"

    run(backend, scenario)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_url_client_reads_each_body_framing(backend: str, framing: str) -> None:
    async def handler(connection: anyio.abc.SocketStream) -> None:
        async with connection:
            await read_request(connection)
            await send_in_pieces(connection, FRAMINGS[framing])

    async def scenario() -> None:
        async with scripted_server(handler) as url, open_event_stream(url) as stream:
            assert stream.status == 200
            assert stream.headers["content-type"] == "text/event-stream"
            assert await stream.collect() == TICKS
            assert stream.raw == TICKS_WIRE
            assert stream.complete

    run(backend, scenario)


def test_a_cut_connection_ends_the_events_and_the_response_is_incomplete(backend: str) -> None:
    async def handler(connection: anyio.abc.SocketStream) -> None:
        async with connection:
            await read_request(connection)
            # Interim response first, then a chunked body cut after the first event.
            await connection.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            head = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
            await send_in_pieces(connection, head + chunked(TICKS_WIRE)[:45])

    async def scenario() -> None:
        async with scripted_server(handler) as url, open_event_stream(url) as stream:
            assert stream.status == 200
            assert await stream.collect() == TICKS[:1]
            assert not stream.complete

    run(backend, scenario)


def test_leaving_the_url_client_closes_the_connection(backend: str) -> None:
    closed: list[float] = []

    async def handler(connection: anyio.abc.SocketStream) -> None:
        async with connection:
            await read_request(connection)
            head = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
            await connection.send(head + b"c\r\ndata: tick\n\n\r\n")
            with pytest.raises(anyio.EndOfStream):
                await connection.receive()
            closed.append(anyio.current_time())

    async def scenario() -> None:
        async with scripted_server(handler) as url:
            with pytest.raises(TimeoutError, match="1 event arrived"):
                async with open_event_stream(url) as stream:
                    await stream.collect(timeout=0.2)
            left = anyio.current_time()
            with anyio.fail_after(2):
                while not closed:
                    await anyio.sleep(0.01)
            assert closed[0] - left < 1

    run(backend, scenario)


def test_the_url_client_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="only http://"):
        open_event_stream("https://example.com/events")
    with pytest.raises(ValueError, match="not an HTTP method"):
        open_event_stream("http://127.0.0.1:1/", method="GET /x")


# The URL client against uvicorn


@pytest.fixture(scope="module")
def uvicorn_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving ``_apps:app`` on a free loopback port, in its own process group."""
    work = tmp_path_factory.mktemp("uvicorn")
    args = ("--log-level", "warning")
    with run_server("uvicorn", HERE, work, app="_apps:app", extra_args=args) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.mark.slow
def test_uvicorn_streams_events_chunked(backend: str, uvicorn_url: str) -> None:
    async def scenario() -> None:
        async with open_event_stream(f"{uvicorn_url}/ticks") as stream:
            assert stream.status == 200
            assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert stream.headers["transfer-encoding"] == "chunked"
            assert await stream.collect(timeout=2) == TICKS
            assert stream.raw == TICKS_WIRE
            assert stream.complete

    run(backend, scenario)


@pytest.mark.slow
def test_uvicorn_gets_the_last_event_id_and_the_post_body(backend: str, uvicorn_url: str) -> None:
    async def scenario() -> None:
        async with open_event_stream(f"{uvicorn_url}/resume", last_event_id="café-7") as stream:
            assert await stream.collect(timeout=2) == [ParsedEvent("resume", "'café-7'", "")]
        async with open_event_stream(f"{uvicorn_url}/echo", method="POST", body=b"hi") as stream:
            assert await stream.collect(timeout=2) == [ParsedEvent("echo", "hi", "")]

    run(backend, scenario)


@pytest.mark.slow
def test_leaving_a_uvicorn_stream_stops_its_producer(backend: str, uvicorn_url: str) -> None:
    async def cleanups() -> int:
        async with open_event_stream(f"{uvicorn_url}/cleanups") as stream:
            (event,) = await stream.collect(timeout=2)
            return int(event.data)

    async def scenario() -> None:
        before = await cleanups()
        async with open_event_stream(f"{uvicorn_url}/endless") as stream:
            events = await stream.collect(max_events=2, timeout=2)
            assert [event.id for event in events] == ["0", "1"]
        with anyio.fail_after(5):
            while await cleanups() == before:
                await anyio.sleep(0.02)

    run(backend, scenario)
