"""The ASGI app that the interop suite (`conftest.py`) serves with uvicorn, for every client.

uvicorn imports it as ``interop_app:app`` with this folder on ``sys.path``. The cases come from
the JSON file named by ``$SSE_INTEROP_CASES`` (written by the test before the server starts);
clients' results are written to ``$SSE_INTEROP_RESULTS/<client>.json``.

Routes:

- ``GET /harness.html``, ``GET /harness.mjs``: the browser harness (this folder's files).
- ``GET /cases``: the case list the harness runs (name, mode, path, the event types to listen
  for) and its time limits.
- ``GET /stream/<n>?client=<c>``: case n's events through `EventSourceResponse`, then one
  ``interop-end`` event that tells the harness the case is over (its ``lastEventId`` shows the
  last event ID the client was left with), then the end of the response.
- ``GET /resume/<n>?client=<c>``: a resumable stream. Each connection starts with a
  ``connected`` event (with the case's ``retry``) whose data says which connection this is and
  what ``Last-Event-ID`` the client sent, then the next ``page`` events of the case's log after
  that id (from the start when there is none), then the end of the response, so the client
  reconnects. Once the log is exhausted, or after ``max_connections`` connections, the answer is
  ``204 No Content``, which tells a client to stop reconnecting.
- ``GET /connections?client=<c>``: how many requests each case got from client c.
- ``POST /results/<client>``: a client's results (JSON), stored for the test to read.
- ``/fastapi/...``: the same kinds of case through the FastAPI binding, from a FastAPI app
  (`fastapi_app`) mounted under that prefix, so that one server and one browser launch serve
  both bindings. ``GET /fastapi/<endpoint>/<n>?client=<c>`` serves case n's items from one of
  its endpoints (see `fastapi_item` for what a case's items are): ``typed`` yields `Item`
  models from a generator annotated ``AsyncIterator[Item]``, ``typed-sync`` from a sync one
  (``Iterator[Item]``, run in a worker thread), ``typed-paced`` the same with keep-alive pings
  between them, ``event-models`` yields ``EventModel[Item]``,
  ``fastapi-events`` yields ``fastapi.sse.ServerSentEvent``, and ``push`` sends the items
  with `EventStream.send` and returns. None of them sends an end-of-case event (a typed
  endpoint yields its items and nothing else): the response just ends. ``GET
  /fastapi/resume/<n>?client=<c>`` is ``/resume/<n>`` through a typed endpoint: the
  ``Last-Event-ID`` comes from `EventStream.last_event_id`, the ``retry`` from the stream's
  settings (``Stream(retry=...)``, sent before the first event), the log's events are
  ``EventModel[Item]`` (their data is an item's JSON), and the 204 is an ``HTTPException``
  raised before the first event.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator  # noqa: TC003 (FastAPI reads annotations)
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import anyio
from fastapi import FastAPI, HTTPException
from fastapi.sse import ServerSentEvent as FastAPIEvent
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from sse_core import ServerSentEvent
from sse_core.pydantic import EventModel
from sse_fastapi_binding import EventSourceResponse as FastAPIEventSourceResponse
from sse_fastapi_binding import EventStream, Stream, enable_event_streams
from sse_starlette_binding import EventSourceResponse, last_event_id
from sse_starlette_binding import ServerSentEvent as CompatEvent

if TYPE_CHECKING:
    from collections.abc import Sequence

    from starlette.requests import Request

CASES_ENV: Final = "SSE_INTEROP_CASES"
RESULTS_ENV: Final = "SSE_INTEROP_RESULTS"
HERE: Final = Path(__file__).resolve().parent
END_TYPE: Final = "interop-end"
CASE_TIMEOUT_MS: Final = 15_000
CLOSED_GRACE_MS: Final = 300

# Requests per (client, case): how a resume case knows which connection this is, and how the
# test checks that a client stopped reconnecting when told to.
_connections: Counter[tuple[str, str]] = Counter()


@cache
def _cases() -> list[dict[str, Any]]:
    # Read on first use rather than at import, so that importing this module (pytest's doctest
    # collection does) needs no environment.
    cases: list[dict[str, Any]] = json.loads(Path(os.environ[CASES_ENV]).read_text("utf-8"))
    return cases


def _event(fields: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(
        fields.get("data"),
        event=fields.get("event"),
        id=fields.get("id"),
        retry=fields.get("retry"),
        comment=fields.get("comment"),
    )


def as_item(fields: dict[str, Any], form: str) -> Any:
    """One event of a case as the kind of item an endpoint yields, so every form is served:
    sse_core's `ServerSentEvent`, a dict of fields, sse-starlette's `ServerSentEvent`, or a plain
    `str` (for an event that has data only; others fall back to sse_core's event)."""
    present = {name: value for name, value in fields.items() if value is not None}
    if form == "dict":
        return present
    if form == "compat":
        return CompatEvent(**present)
    if form == "str" and present.keys() == {"data"}:
        return present["data"]
    return _event(fields)


def stream_types(events: Sequence[dict[str, Any]]) -> list[str]:
    """The event types a client must listen for to see every event of `events` dispatched."""
    dispatched = (fields for fields in events if fields.get("data") is not None)
    return sorted({fields.get("event") or "message" for fields in dispatched})


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


HARNESS_FILES: Final = {"harness.html": "text/html", "harness.mjs": "text/javascript"}


async def harness_file(request: Request) -> Response:
    """The harness page and its module (and nothing else from this folder)."""
    name = request.path_params["name"]
    media_type = HARNESS_FILES.get(name)
    if media_type is None:
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(HERE / name, media_type=media_type, headers={"Cache-Control": "no-store"})


async def case_list(request: Request) -> JSONResponse:
    listing = []
    for index, case in enumerate(_cases()):
        if case["kind"] == "stream":
            types = stream_types(case["events"])
            mode, path = "stream", f"/stream/{index}"
        elif case["kind"] == "fastapi-stream":
            # The test lists the types: only it knows what event each item stands for.
            types = case["types"]
            mode, path = "stream", f"/fastapi/{case['endpoint']}/{index}"
        else:
            types = [*stream_types(case["log"]), "connected"]
            prefix = "/fastapi" if case["binding"] == "fastapi" else ""
            mode, path = "resume", f"{prefix}/resume/{index}"
        listing.append({"name": case["name"], "mode": mode, "path": path, "types": types})
    return JSONResponse(
        {"cases": listing, "caseTimeoutMs": CASE_TIMEOUT_MS, "closedGraceMs": CLOSED_GRACE_MS}
    )


def count_connection(client: str, case: dict[str, Any]) -> int:
    """Counts one more request from `client` for `case`; returns which request this is."""
    key = (client, case["name"])
    _connections[key] += 1
    return _connections[key]


def _count_connection(request: Request, case: dict[str, Any]) -> int:
    return count_connection(request.query_params.get("client", ""), case)


async def stream(request: Request) -> EventSourceResponse:
    """Serve a stream case: its events in its item form, then the end-of-case event."""
    case = _cases()[request.path_params["index"]]
    _count_connection(request, case)
    form, pause = case["form"], case["pause"]

    async def items() -> AsyncIterator[Any]:
        for fields in case["events"]:
            yield as_item(fields, form)
            if pause:
                # Silence between events, long enough for keep-alive pings to be written.
                await anyio.sleep(pause)
        yield as_item({"data": "end", "event": END_TYPE}, form)

    return EventSourceResponse(items(), ping=case["ping"], sep=case["sep"])


def connected_data(connection: int, header: str | None, raw: bytes | None) -> str:
    """The data of a resume case's ``connected`` event (the test computes the same text)."""
    return json.dumps(
        {
            "connection": connection,
            "last_event_id": header,
            "raw_header": None if raw is None else raw.hex(),
        },
        sort_keys=True,
    )


def resume_page(
    case: dict[str, Any], connection: int, header: str | None
) -> list[dict[str, Any]] | None:
    """The events of a resume case's log that connection number `connection` serves, the
    client having sent `header` as its Last-Event-ID: the next page after that id (from the
    start when there is none, or it is not in the log), or None for a 204."""
    log: list[dict[str, Any]] = case["log"]
    ids = [fields.get("id") for fields in log]
    position = ids.index(header) + 1 if header is not None and header in ids else 0
    if connection > case["max_connections"] or position >= len(log):
        return None
    return log[position : position + case["page"]]


async def resume(request: Request) -> Response:
    """Serve one connection of a resume case (see the module docstring)."""
    case = _cases()[request.path_params["index"]]
    connection = _count_connection(request, case)
    header = last_event_id(request)
    # Starlette decodes header bytes as latin-1, so this gives back the bytes the client sent.
    raw_value = request.headers.get("last-event-id")
    raw = None if raw_value is None else raw_value.encode("latin-1")
    page = resume_page(case, connection, header)
    if page is None:
        return Response(status_code=204)
    connected = ServerSentEvent(
        connected_data(connection, header, raw), event="connected", retry=case["retry"]
    )

    async def items() -> AsyncIterator[Any]:
        yield connected
        for fields in page:
            yield _event(fields)

    return EventSourceResponse(items(), ping=0, sep="\n")


async def connections(request: Request) -> JSONResponse:
    client = request.query_params.get("client", "")
    counts = {name: n for (who, name), n in _connections.items() if who == client}
    return JSONResponse(counts)


async def results(request: Request) -> PlainTextResponse:
    client = request.path_params["client"]
    if not client.isidentifier():
        return PlainTextResponse("bad client name", status_code=400)
    body = await request.body()
    json.loads(body)  # a client that posts something else gets a 500 and a log line
    directory = Path(os.environ[RESULTS_ENV])
    partial = directory / f".{client}.json.partial"
    partial.write_bytes(body)
    # Renamed into place, so the test never reads half a file.
    partial.replace(directory / f"{client}.json")
    return PlainTextResponse("stored")


# The FastAPI binding's cases: a FastAPI app, mounted under /fastapi by `app` below.


class Item(BaseModel):
    """What the FastAPI cases' typed endpoints yield: str fields only, so its JSON is plain
    strings (pydantic writes it compact, with every line break escaped)."""

    text: str
    label: str


TypedEvent = EventModel[Item]
# No keep-alive pings, except on the endpoint that is there to have them: a case's items are
# ready at once, and a ping before them would open the stream by itself.
CaseStream = Annotated[EventStream[Item], Stream(ping=0)]
PacedStream = Annotated[EventStream[Item], Stream(ping=0.03)]
FASTAPI_RESUME_RETRY: Final = 20
"""The reconnection time (ms) of the FastAPI resume cases: a stream setting, so the same for all."""
ResumeStream = Annotated[EventStream[Item], Stream(ping=0, retry=FASTAPI_RESUME_RETRY)]
PACE: Final = 0.12
"""Seconds between the items of ``typed-paced``: time for a few pings."""

fastapi_app = FastAPI(title="interop")
enable_event_streams(fastapi_app)


def fastapi_item(spec: dict[str, Any]) -> Any:
    """One item of a FastAPI case, from its JSON description (the test writes them):

    - ``{"kind": "item", "fields": {...}}``: an `Item`;
    - ``{"kind": "dict", "fields": {...}}``: the fields as a dict (a push endpoint's `send`
      validates it as an `Item`);
    - ``{"kind": "event-model", "fields": {...}, "event": ..., "id": ..., ...}``:
      ``EventModel[Item]`` with those fields;
    - ``{"kind": "fastapi", "raw_data" | "data" | "event" | ...: ...}``:
      ``fastapi.sse.ServerSentEvent`` with those fields;
    - ``{"kind": "core", "data": ..., ...}``: sse_core's `ServerSentEvent`.
    """
    kind = spec["kind"]
    rest = {name: value for name, value in spec.items() if name not in {"kind", "fields"}}
    if kind == "item":
        return Item(**spec["fields"])
    if kind == "dict":
        return dict(spec["fields"])
    if kind == "event-model":
        return TypedEvent(data=Item(**spec["fields"]), **rest)
    if kind == "fastapi":
        return FastAPIEvent(**rest)
    if kind == "core":
        return _event(rest)
    raise ValueError(f"unknown item kind {kind!r}")


def _fastapi_case(index: int, client: str) -> dict[str, Any]:
    case = _cases()[index]
    count_connection(client, case)
    return case


@fastapi_app.get("/typed/{index}", response_class=FastAPIEventSourceResponse)
async def typed_items(index: int, client: str = "") -> AsyncIterator[Item]:
    """A typed generator endpoint: each `Item` validated and serialized by the binding."""
    for spec in _fastapi_case(index, client)["items"]:
        yield Item(**spec["fields"])


@fastapi_app.get("/typed-sync/{index}", response_class=FastAPIEventSourceResponse)
def sync_typed_items(index: int, client: str = "") -> Iterator[Item]:
    """`typed_items` as a sync generator, which the binding runs in a worker thread."""
    for spec in _fastapi_case(index, client)["items"]:
        yield Item(**spec["fields"])


@fastapi_app.get("/typed-paced/{index}", response_class=FastAPIEventSourceResponse)
async def paced_items(index: int, stream: PacedStream, client: str = "") -> AsyncIterator[Item]:
    """`typed_items` with silences between the items, filled by keep-alive pings."""
    del stream  # declared for its settings (the ping interval)
    for number, spec in enumerate(_fastapi_case(index, client)["items"]):
        if number:
            await anyio.sleep(PACE)
        yield Item(**spec["fields"])


@fastapi_app.get("/event-models/{index}", response_class=FastAPIEventSourceResponse)
async def event_models(index: int, client: str = "") -> AsyncIterator[TypedEvent]:
    """Typed events: ``EventModel[Item]`` with event types, ids, retry and comments."""
    for spec in _fastapi_case(index, client)["items"]:
        yield fastapi_item(spec)


@fastapi_app.get("/fastapi-events/{index}", response_class=FastAPIEventSourceResponse)
async def fastapi_events(index: int, client: str = "") -> AsyncIterator[FastAPIEvent]:
    """``fastapi.sse.ServerSentEvent`` items, with fastapi.sse's rules for ``raw_data``."""
    for spec in _fastapi_case(index, client)["items"]:
        yield fastapi_item(spec)


@fastapi_app.get("/push/{index}", response_class=FastAPIEventSourceResponse)
async def push(index: int, stream: CaseStream, client: str = "") -> None:
    """A push endpoint: sends the case's items with `EventStream.send`, then returns, which
    ends the stream once they have gone out."""
    for spec in _fastapi_case(index, client)["items"]:
        await stream.send(fastapi_item(spec))


@fastapi_app.get("/resume/{index}", response_class=FastAPIEventSourceResponse)
async def typed_resume(
    index: int, stream: ResumeStream, client: str = ""
) -> AsyncIterator[TypedEvent | ServerSentEvent]:
    """One connection of a resume case through the FastAPI binding (see the module docstring).

    The 204 is raised before the first event: the binding holds the headers back until then,
    so FastAPI's handler answers it as the response (a generator cannot return a response)."""
    case = _cases()[index]
    if case["retry"] != FASTAPI_RESUME_RETRY:
        raise ValueError(f"FastAPI resume cases have retry={FASTAPI_RESUME_RETRY} (a setting)")
    connection = count_connection(client, case)
    header = stream.last_event_id
    raw_value = stream.request.headers.get("last-event-id")
    raw = None if raw_value is None else raw_value.encode("latin-1")
    page = resume_page(case, connection, header)
    if page is None:
        raise HTTPException(status_code=204)
    # No retry field here: the stream's setting has sent it already.
    yield ServerSentEvent(connected_data(connection, header, raw), event="connected")
    for fields in page:
        if fields.get("data") is None:
            yield _event(fields)  # an id without data: no item to carry it
        else:
            # The test wrote each event's data as an item's JSON.
            data = Item.model_validate_json(fields["data"])
            yield TypedEvent(data=data, event=fields.get("event"), id=fields.get("id"))


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/cases", case_list),
        Route("/stream/{index:int}", stream),
        Route("/resume/{index:int}", resume),
        Route("/connections", connections),
        Route("/results/{client:str}", results, methods=["POST"]),
        Mount("/fastapi", app=fastapi_app),
        Route("/{name:str}", harness_file),
    ]
)
