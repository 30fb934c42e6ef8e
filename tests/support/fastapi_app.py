"""A FastAPI app with every kind of event-stream endpoint, for the in-process and server tests.

`create_app(database)` builds it around a sqlite file: the ``session`` dependency (a dependency
with ``yield``) opens a connection per request and records in the file when it opened and when
it closed, so a test, even one whose server has exited, can tell whether the dependency stayed
open for the whole stream and closed after it. uvicorn serves it with
``--factory support.fastapi_app:app_from_env``, the file named by ``SSE_FASTAPI_TEST_DB``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator  # noqa: TC003 (FastAPI reads annotations)
from typing import Annotated, Any, Final

import anyio
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    FastAPI,
    HTTPException,
    Request,
    Response,
)
from fastapi.sse import ServerSentEvent as FastAPIEvent
from pydantic import BaseModel, Field

from sse_core import ServerSentEvent
from sse_core.pydantic import EventModel
from sse_fastapi_binding import (
    EventSourceResponse,
    EventStream,
    EventStreamClosed,
    EventStreamRoute,
    Stream,
    enable_event_streams,
)

DATABASE_ENV: Final = "SSE_FASTAPI_TEST_DB"


class Tick(BaseModel):
    n: int


class Prompt(BaseModel):
    text: str = Field(min_length=1)
    max_tokens: int = 100


class Token(BaseModel):
    index: int
    text: str


class Note(BaseModel):
    author: str
    body: str


Ticks = Annotated[EventStream[Tick], Stream(ping=5, retry=3000)]
Notes = Annotated[EventStream[Note], Stream(ping=0.2, shutdown_grace_period=1, max_pending=4)]
Quiet = Annotated[EventStream[Any], Stream(ping=0.1, shutdown_grace_period=1)]
Flood = Annotated[EventStream[Any], Stream(ping=0, send_timeout=0.5)]


def resume_point(stream: Ticks) -> int:
    """A custom dependency built on the stream: where a reconnecting client resumes."""
    return int(stream.last_event_id or 0)


def create_database(path: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, state TEXT NOT NULL)"
        )
        connection.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
        connection.execute("DELETE FROM notes")
        connection.executemany(
            "INSERT INTO notes (id, body) VALUES (?, ?)", [(n, f"note {n}") for n in (1, 2, 3)]
        )


def session_states(path: str) -> list[str]:
    """The state of every session the app opened, in order: "open" or "closed"."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT state FROM sessions ORDER BY id")]


class Hub:
    """Fans notes out to the streams subscribed to it (other tasks push into streams)."""

    def __init__(self) -> None:
        self.streams: set[EventStream[Note]] = set()

    @contextlib.contextmanager
    def subscribe(self, stream: EventStream[Note]) -> Iterator[None]:
        self.streams.add(stream)
        try:
            yield
        finally:
            self.streams.discard(stream)

    async def publish(self, note: Note) -> int:
        delivered = 0
        for stream in list(self.streams):
            try:
                await stream.send(note)
                delivered += 1
            except EventStreamClosed:
                self.streams.discard(stream)
        return delivered


def session(request: Request) -> Iterator[sqlite3.Connection]:
    """A sync dependency with yield: one connection per request, recorded in the database.

    FastAPI runs it in worker threads, so the connection is shared across threads (sqlite
    allows it when told)."""
    database = request.app.state.database
    connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    cursor = connection.execute("INSERT INTO sessions (state) VALUES ('open')")
    try:
        yield connection
    finally:
        connection.execute("UPDATE sessions SET state = 'closed' WHERE id = ?", (cursor.lastrowid,))
        connection.close()


Session = Annotated[sqlite3.Connection, Depends(session)]


def create_app(database: str) -> FastAPI:
    create_database(database)
    app = FastAPI(title="sse-fastapi-binding test app")
    enable_event_streams(app)
    app.state.hub = Hub()
    app.state.database = database
    add_typed_routes(app)
    add_push_routes(app, app.state.hub)
    add_dependency_routes(app)
    return app


def add_typed_routes(app: FastAPI) -> None:
    """Endpoints that yield items: typed, untyped, failing, sync, FastAPI's own events."""

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ticks", response_class=EventSourceResponse)
    async def ticks(stream: Ticks, count: int = 3) -> AsyncIterator[Tick]:
        """Counts from the last id the client saw."""
        if count < 0:
            raise HTTPException(status_code=404, detail="no such count")
        start = int(stream.last_event_id or 0)
        for n in range(start + 1, start + count + 1):
            yield Tick(n=n)

    @app.get("/ticks-with-ids", response_class=EventSourceResponse)
    async def ticks_with_ids(stream: Ticks) -> AsyncIterator[EventModel[Tick]]:
        start = int(stream.last_event_id or 0)
        for n in range(start + 1, start + 4):
            yield EventModel[Tick](data=Tick(n=n), event="tick", id=str(n))

    @app.get("/untyped", response_class=EventSourceResponse)
    async def untyped() -> AsyncIterator[Any]:
        yield {"a": [1, 2.5, None]}
        yield "text is JSON too"
        yield ServerSentEvent("text as it is", event="raw")

    @app.get("/bad-item", response_class=EventSourceResponse)
    async def bad_item(first_ok: bool = False) -> AsyncIterator[Tick]:
        if first_ok:
            yield Tick(n=1)
        yield {"n": "not a number"}  # type: ignore[misc]

    @app.get("/late-error", response_class=EventSourceResponse)
    async def late_error() -> AsyncIterator[Tick]:
        yield Tick(n=1)
        raise HTTPException(status_code=409, detail="too late for a status")

    @app.get("/sync-ticks", response_class=EventSourceResponse)
    def sync_ticks(count: int = 3) -> Iterator[Tick]:
        for n in range(count):
            yield Tick(n=n)

    @app.get("/fastapi-events", response_class=EventSourceResponse)
    async def fastapi_events() -> AsyncIterator[FastAPIEvent]:
        yield FastAPIEvent(data={"k": "v"}, event="json", id="1")
        yield FastAPIEvent(raw_data="plain\ntext", retry=1500)
        yield FastAPIEvent(comment="just a comment")
        yield FastAPIEvent(data=Tick(n=7))

    @app.post("/chat", response_class=EventSourceResponse)
    async def chat(prompt: Prompt) -> AsyncIterator[Token]:
        """An LLM-style token stream: a JSON body in, tokens out."""
        if prompt.text == "forbidden":
            raise HTTPException(status_code=403, detail="not allowed")
        for index, word in enumerate(prompt.text.split()[: prompt.max_tokens]):
            await anyio.sleep(0)
            yield Token(index=index, text=word)


def add_push_routes(app: FastAPI, hub: Hub) -> None:
    """Endpoints that send from their own body, and the one that publishes to them."""

    @app.get("/notes", response_class=EventSourceResponse)
    async def notes(stream: Notes) -> None:
        """A push endpoint: other requests publish notes to every subscriber."""
        await stream.send(ServerSentEvent(comment="subscribed"))  # opens the stream at once
        with hub.subscribe(stream):
            await stream.wait_closed()
        if stream.shutting_down:
            await stream.send(ServerSentEvent("server restarting", event="bye"))

    @app.post("/notes")
    async def publish(note: Note) -> dict[str, int]:
        return {"delivered": await hub.publish(note)}

    @app.get("/countdown", response_class=EventSourceResponse)
    async def countdown(stream: Notes, start: int = 3) -> None:
        """A push endpoint that sends from its own body, then ends."""
        if start < 0:
            raise HTTPException(status_code=400, detail="start must be >= 0")
        for n in range(start, 0, -1):
            await stream.send({"author": "clock", "body": str(n)})


def add_dependency_routes(app: FastAPI) -> None:
    """Endpoints around dependencies, connection state, headers, and streams built by hand."""

    @app.get("/db", response_class=EventSourceResponse)
    async def rows(
        connection: Session, stream: Quiet, idle: bool = False
    ) -> AsyncIterator[dict[str, Any] | ServerSentEvent]:
        """Streams rows through a dependency with yield, then (idle=true) waits for the end."""
        for note_id, body in connection.execute("SELECT id, body FROM notes ORDER BY id"):
            yield {"id": note_id, "body": body}
        while idle and not stream.shutting_down:
            await anyio.sleep(0.01)
        if stream.shutting_down:
            yield ServerSentEvent("goodbye", event="bye")

    @app.get("/resume", response_class=EventSourceResponse)
    async def resume(
        start: Annotated[int, Depends(resume_point)], stream: Ticks
    ) -> AsyncIterator[Tick]:
        """Composes the stream with a custom dependency that also takes it."""
        yield Tick(n=start + 1)
        if stream.settings.retry == 3000:
            yield Tick(n=start + 2)

    @app.get("/flood", response_class=EventSourceResponse)
    async def flood(connection: Session, stream: Flood) -> AsyncIterator[ServerSentEvent]:
        """64 KiB events as fast as the client takes them, for a client that stops reading."""
        del connection, stream
        block = ServerSentEvent("x" * 65536)
        while True:
            yield block
            await anyio.sleep(0)

    @app.get("/connection", response_class=EventSourceResponse)
    async def connection_state(stream: Quiet) -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(f"connected={stream.connected}")
        await anyio.sleep_forever()

    @app.get("/headers", response_class=EventSourceResponse, status_code=201)
    async def with_headers(response: Response, background: BackgroundTasks) -> AsyncIterator[Tick]:
        response.headers["X-Stream"] = "yes"
        background.add_task(app.state.__setattr__, "background_ran", True)
        yield Tick(n=1)

    @app.get("/built-by-hand")
    async def built_by_hand() -> EventSourceResponse:
        async def count() -> AsyncIterator[Tick]:
            for n in range(2):
                yield Tick(n=n)

        return EventSourceResponse(count(), ping=0, item_type=Tick)

    router = APIRouter(prefix="/router", route_class=EventStreamRoute)

    @router.get("/ticks", response_class=EventSourceResponse)
    async def router_ticks() -> AsyncIterator[Tick]:
        yield Tick(n=1)

    app.include_router(router)


def app_from_env() -> FastAPI:
    """The app for uvicorn's ``--factory``, around the database ``SSE_FASTAPI_TEST_DB`` names."""
    return create_app(os.environ[DATABASE_ENV])
