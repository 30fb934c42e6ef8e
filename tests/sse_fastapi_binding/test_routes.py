"""Event-stream endpoints of a FastAPI app (``support/fastapi_app.py``), called in process.

Each test reads a stream back with `EventStreamClient`, under asyncio and trio, and checks what
a client would see: the bytes, the status and headers, which errors become HTTP statuses, and
that dependencies and pushes behave. Real servers are in test_servers.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator  # noqa: TC003 (FastAPI reads endpoint annotations)
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import pytest
from fastapi import Depends, FastAPI
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from fastapi.sse import ServerSentEvent as FastAPIEvent
from support.fastapi_app import Tick, create_app, session_states

from sse_core import EventParser, InvalidEventError, ParsedEvent
from sse_fastapi_binding import (
    EventSourceResponse,
    EventStream,
    EventStreamClosed,
    Stream,
    enable_event_streams,
)
from sse_starlette_binding import notify_shutdown
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from sse_starlette_binding.testing import AppEventStream

LIMIT = 5.0
# Aliases live at module level: with postponed annotations, FastAPI resolves them by name there.
Fast = Annotated[EventStream[Any], Stream(ping=1)]
Pushed = Annotated[EventStream[Tick], Stream(ping=0, max_pending=1)]


@pytest.fixture
def database(tmp_path: Path) -> str:
    return str(tmp_path / "app.sqlite")


@pytest.fixture
def app(database: str) -> FastAPI:
    return create_app(database)


def run(backend: str, scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with anyio.fail_after(LIMIT):
            await scenario()

    anyio.run(bounded, backend=backend)


def data(events: list[ParsedEvent]) -> list[Any]:
    return [json.loads(event.data) for event in events]


async def read(app: FastAPI, path: str, **kwargs: Any) -> tuple[AppEventStream, list[ParsedEvent]]:
    """The whole stream at `path`: the response, and its events."""
    async with EventStreamClient(app) as client, client.stream(path, **kwargs) as stream:
        events = await stream.collect()
    return stream, events


# Typed generator endpoints


def test_a_typed_stream_sends_retry_then_compact_json_items(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        stream, events = await read(app, "/ticks")
        assert stream.status == 200
        assert stream.raw == (b'retry: 3000\n\ndata: {"n":1}\n\ndata: {"n":2}\n\ndata: {"n":3}\n\n')
        assert stream.retry == 3000
        assert data(events) == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert stream.headers["cache-control"] == "no-store"
        assert stream.headers["x-accel-buffering"] == "no"
        assert "connection" not in stream.headers
        assert stream.complete

    run(backend, scenario)


def test_the_stream_resumes_from_last_event_id(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        _, events = await read(app, "/ticks?count=2", last_event_id="41")
        assert data(events) == [{"n": 42}, {"n": 43}]
        _, events = await read(app, "/ticks-with-ids", last_event_id="7")
        assert [(e.event, e.id, json.loads(e.data)) for e in events] == [
            ("tick", "8", {"n": 8}),
            ("tick", "9", {"n": 9}),
            ("tick", "10", {"n": 10}),
        ]

    run(backend, scenario)


def test_untyped_items_are_json_and_event_objects_are_written_as_events(
    backend: str, app: FastAPI
) -> None:
    async def scenario() -> None:
        stream, events = await read(app, "/untyped")
        assert stream.raw == (
            b'data: {"a":[1,2.5,null]}\n\n'
            b'data: "text is JSON too"\n\n'
            b"event: raw\ndata: text as it is\n\n"
        )
        assert [e.event for e in events] == ["message", "message", "raw"]

    run(backend, scenario)


def test_fastapi_sse_events_are_accepted(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        stream, events = await read(app, "/fastapi-events")
        assert stream.raw == (
            b'id: 1\nevent: json\ndata: {"k":"v"}\n\n'
            b"data: plain\ndata: text\nretry: 1500\n\n"
            b": just a comment\n\n"
            b'data: {"n":7}\n\n'
        )
        assert [(e.event, e.data, e.id) for e in events] == [
            ("json", '{"k":"v"}', "1"),
            ("message", "plain\ntext", "1"),
            ("message", '{"n":7}', "1"),
        ]

    run(backend, scenario)


def test_a_sync_generator_endpoint_streams_too(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        _, events = await read(app, "/sync-ticks?count=4")
        assert data(events) == [{"n": n} for n in range(4)]

    run(backend, scenario)


def test_a_response_built_by_hand_validates_its_items(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        stream, events = await read(app, "/built-by-hand")
        assert data(events) == [{"n": 0}, {"n": 1}]
        assert stream.raw.startswith(b"data: ")  # LF line ends, no retry unless asked

    run(backend, scenario)


def test_routes_of_an_included_router_stream(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        _, events = await read(app, "/router/ticks")
        assert data(events) == [{"n": 1}]

    run(backend, scenario)


# Errors: a status while nothing was sent, a clean end after


def test_an_http_exception_before_the_first_event_is_a_normal_error_response(
    backend: str, app: FastAPI
) -> None:
    async def scenario() -> None:
        stream, events = await read(app, "/ticks?count=-1")
        assert stream.status == 404
        assert stream.headers["content-type"] == "application/json"
        assert json.loads(stream.raw) == {"detail": "no such count"}
        assert events == []

    run(backend, scenario)


def test_request_validation_errors_are_422_for_queries_and_bodies(
    backend: str, app: FastAPI
) -> None:
    async def scenario() -> None:
        stream, _ = await read(app, "/ticks?count=many")
        assert stream.status == 422
        assert json.loads(stream.raw)["detail"][0]["loc"] == ["query", "count"]
        body = json.dumps({"text": ""}).encode()
        headers = {"content-type": "application/json"}
        stream, _ = await read(app, "/chat", method="POST", body=body, headers=headers)
        assert stream.status == 422
        assert json.loads(stream.raw)["detail"][0]["loc"] == ["body", "text"]

    run(backend, scenario)


def test_an_item_that_fails_validation_first_is_a_500(backend: str, app: FastAPI) -> None:
    statuses: list[int] = []

    async def scenario() -> None:
        async with EventStreamClient(app) as client:
            with pytest.raises(ResponseValidationError, match="not a number"):
                async with client.stream("/bad-item") as stream:
                    statuses.append(stream.status)

    run(backend, scenario)
    assert statuses == [500]


def test_errors_after_the_first_event_end_the_stream_cleanly(
    backend: str, app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        stream, events = await read(app, "/late-error")
        assert stream.status == 200
        assert data(events) == [{"n": 1}]
        assert stream.complete
        stream, events = await read(app, "/bad-item?first_ok=true")
        assert data(events) == [{"n": 1}]
        assert stream.complete

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    errors = [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
    assert any("too late for a status" in error for error in errors)
    assert any("not a number" in error for error in errors)


# POST: a JSON body in, a token stream out


def test_post_streams_tokens_for_a_json_body(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        body = json.dumps({"text": "the quick brown fox", "max_tokens": 3}).encode()
        headers = {"content-type": "application/json"}
        stream, events = await read(app, "/chat", method="POST", body=body, headers=headers)
        assert stream.status == 200
        assert data(events) == [
            {"index": 0, "text": "the"},
            {"index": 1, "text": "quick"},
            {"index": 2, "text": "brown"},
        ]
        body = json.dumps({"text": "forbidden"}).encode()
        stream, _ = await read(app, "/chat", method="POST", body=body, headers=headers)
        assert stream.status == 403

    run(backend, scenario)


# Push endpoints


def test_a_push_endpoint_sends_from_its_body_and_ends_when_it_returns(
    backend: str, app: FastAPI
) -> None:
    async def scenario() -> None:
        stream, events = await read(app, "/countdown?start=3")
        assert [json.loads(e.data)["body"] for e in events] == ["3", "2", "1"]
        assert stream.complete
        stream, _ = await read(app, "/countdown?start=-1")
        assert stream.status == 400

    run(backend, scenario)


def test_other_tasks_push_into_subscribed_streams(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        async with EventStreamClient(app) as client:
            async with client.stream("/notes") as first, client.stream("/notes") as second:
                assert first.status == second.status == 200
                headers = {"content-type": "application/json"}
                for body in ("one", "two"):
                    note = json.dumps({"author": "ann", "body": body}).encode()
                    async with client.stream(
                        "/notes", method="POST", body=note, headers=headers
                    ) as publish:
                        await publish.collect()
                    assert json.loads(publish.raw) == {"delivered": 2}
                for stream in (first, second):
                    events = await stream.collect(max_events=2)
                    assert [json.loads(e.data)["body"] for e in events] == ["one", "two"]
            # Both clients left: the hub forgot them (their endpoints were cancelled).
            assert app.state.hub.streams == set()

    run(backend, scenario)


def test_send_after_the_client_left_raises_event_stream_closed(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        async with EventStreamClient(app) as client:
            async with client.stream("/notes") as stream:
                await stream.collect(timeout=0.05, stop_at_timeout=True)
                (subscriber,) = app.state.hub.streams
            assert not subscriber.connected
            with pytest.raises(EventStreamClosed, match="has ended"):
                await subscriber.send({"author": "late", "body": "nobody listens"})

    run(backend, scenario)


def test_a_pushed_item_is_validated_in_the_sender(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        async with EventStreamClient(app) as client, client.stream("/notes"):
            await anyio.sleep(0.01)
            (subscriber,) = app.state.hub.streams
            with pytest.raises(ResponseValidationError, match="author"):
                await subscriber.send({"body": "no author"})
            # Built without fastapi.sse's own checks, which would refuse this id first.
            with pytest.raises(InvalidEventError, match="'id'"):
                await subscriber.send(FastAPIEvent.model_construct(id="a\x00b"))

    run(backend, scenario)


def test_a_task_that_closes_the_stream_ends_it_after_its_events(backend: str) -> None:
    app = FastAPI()
    enable_event_streams(app)

    @app.get("/handed-off", response_class=EventSourceResponse)
    async def handed_off(stream: Pushed) -> None:
        async def worker() -> None:
            for n in range(3):
                await stream.send(Tick(n=n))
            stream.close()

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(worker)
            await stream.wait_closed()

    async def scenario() -> None:
        stream, events = await read(app, "/handed-off")
        assert data(events) == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert stream.complete

    run(backend, scenario)


def test_a_generator_endpoint_cannot_push(backend: str) -> None:
    app = FastAPI()
    enable_event_streams(app)

    @app.get("/mixed", response_class=EventSourceResponse)
    async def mixed(stream: Annotated[EventStream[Any], Stream()]) -> AsyncIterator[Tick]:
        await stream.send(Tick(n=1))
        yield Tick(n=2)

    async def scenario() -> None:
        async with EventStreamClient(app) as client:
            with pytest.raises(RuntimeError, match="yields its events instead"):
                async with client.stream("/mixed"):
                    pass

    run(backend, scenario)


# Connection state, shutdown, dependencies with yield


def test_custom_dependencies_compose_with_the_stream(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        _, events = await read(app, "/resume", last_event_id="20")
        assert data(events) == [{"n": 21}, {"n": 22}]

    run(backend, scenario)


def test_the_stream_knows_the_client_is_connected(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        async with EventStreamClient(app) as client, client.stream("/connection") as stream:
            (event,) = await stream.collect(max_events=1)
        assert event.data == "connected=True"

    run(backend, scenario)


def test_a_dependency_with_yield_closes_after_a_stream_that_ends(
    backend: str, app: FastAPI, database: str
) -> None:
    async def scenario() -> None:
        async with EventStreamClient(app) as client, client.stream("/db") as stream:
            events = await stream.collect()
            assert stream.complete
        assert [json.loads(e.data)["body"] for e in events] == ["note 1", "note 2", "note 3"]

    run(backend, scenario)
    assert session_states(database) == ["closed"]


def test_a_dependency_with_yield_stays_open_until_the_client_leaves(
    backend: str, app: FastAPI, database: str
) -> None:
    async def scenario() -> None:
        async with EventStreamClient(app) as client, client.stream("/db?idle=true") as stream:
            assert len(await stream.collect(max_events=3)) == 3
            await anyio.sleep(0.05)
            assert session_states(database) == ["open"]  # mid-stream: still open
        assert session_states(database) == ["closed"]

    run(backend, scenario)


def test_shutdown_lets_the_stream_say_goodbye_and_closes_its_dependencies(
    backend: str, app: FastAPI, database: str
) -> None:
    async def scenario() -> None:
        async with (
            EventStreamClient(app) as client,
            client.stream("/db?idle=true") as rows,
            client.stream("/notes") as notes,
        ):
            assert len(await rows.collect(max_events=3)) == 3
            await anyio.sleep(0.05)
            notify_shutdown()
            rest = await rows.collect()
            farewell = await notes.collect()
        assert [(e.event, e.data) for e in rest] == [("bye", "goodbye")]
        assert [(e.event, e.data) for e in farewell] == [("bye", "server restarting")]
        assert rows.complete
        assert notes.complete

    run(backend, scenario)
    assert session_states(database) == ["closed"]


# Settings, headers, background tasks


def test_pings_follow_the_declared_interval(backend: str, app: FastAPI) -> None:
    async def scenario() -> None:
        async with EventStreamClient(app) as client, client.stream("/connection") as stream:
            await stream.collect(timeout=0.35, stop_at_timeout=True)
        pings = EventParser().feed(stream.raw)
        assert len(pings) == 1  # pings are comments: never events
        assert stream.raw.count(b": ping - ") in (2, 3)

    run(backend, scenario)


def test_headers_status_and_background_tasks_of_the_endpoint_apply(
    backend: str, app: FastAPI
) -> None:
    async def scenario() -> None:
        stream, events = await read(app, "/headers")
        assert stream.status == 201
        assert stream.headers["x-stream"] == "yes"
        assert data(events) == [{"n": 1}]

    run(backend, scenario)
    assert app.state.background_ran is True


def test_two_different_settings_in_one_request_are_refused(backend: str) -> None:
    app = FastAPI()
    enable_event_streams(app)

    def needs_slow(stream: Annotated[EventStream[Any], Stream(ping=30)]) -> None:
        del stream

    @app.get("/clash", response_class=EventSourceResponse, dependencies=[Depends(needs_slow)])
    async def clash(stream: Fast) -> AsyncIterator[Tick]:
        yield Tick(n=1)

    async def scenario() -> None:
        async with EventStreamClient(app) as client:
            with pytest.raises(TypeError, match="two different settings"):
                async with client.stream("/clash"):
                    pass

    run(backend, scenario)


# Setting up


def test_a_generator_endpoint_on_fastapis_own_route_is_refused_with_a_hint(backend: str) -> None:
    app = FastAPI()  # no enable_event_streams

    @app.get("/ticks", response_class=EventSourceResponse)
    async def ticks() -> AsyncIterator[Tick]:
        yield Tick(n=1)

    assert type(app.routes[-1]) is APIRoute

    async def scenario() -> None:
        async with EventStreamClient(app) as client:
            with pytest.raises(TypeError, match=r"enable_event_streams\(app\)"):
                async with client.stream("/ticks"):
                    pass

    run(backend, scenario)


def test_enabling_after_stream_routes_were_added_is_refused() -> None:
    app = FastAPI()

    @app.get("/ticks", response_class=EventSourceResponse)
    async def ticks() -> AsyncIterator[Tick]:
        yield Tick(n=1)

    with pytest.raises(RuntimeError, match=r"\['/ticks'\]"):
        enable_event_streams(app)
