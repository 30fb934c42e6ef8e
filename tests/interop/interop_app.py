"""The ASGI app that `test_interop.py` serves with uvicorn, for every client of the suite.

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
"""

from __future__ import annotations

import json
import os
from collections import Counter
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sse_core import ServerSentEvent
from sse_starlette_binding import EventSourceResponse, last_event_id
from sse_starlette_binding import ServerSentEvent as CompatEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

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
        else:
            types = [*stream_types(case["log"]), "connected"]
            mode, path = "resume", f"/resume/{index}"
        listing.append({"name": case["name"], "mode": mode, "path": path, "types": types})
    return JSONResponse(
        {"cases": listing, "caseTimeoutMs": CASE_TIMEOUT_MS, "closedGraceMs": CLOSED_GRACE_MS}
    )


def _count_connection(request: Request, case: dict[str, Any]) -> int:
    key = (request.query_params.get("client", ""), case["name"])
    _connections[key] += 1
    return _connections[key]


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


async def resume(request: Request) -> Response:
    """Serve one connection of a resume case (see the module docstring)."""
    case = _cases()[request.path_params["index"]]
    connection = _count_connection(request, case)
    header = last_event_id(request)
    # Starlette decodes header bytes as latin-1, so this gives back the bytes the client sent.
    raw_value = request.headers.get("last-event-id")
    raw = None if raw_value is None else raw_value.encode("latin-1")
    log: list[dict[str, Any]] = case["log"]
    ids = [fields.get("id") for fields in log]
    position = ids.index(header) + 1 if header is not None and header in ids else 0
    if connection > case["max_connections"] or position >= len(log):
        return Response(status_code=204)
    page = log[position : position + case["page"]]
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


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/cases", case_list),
        Route("/stream/{index:int}", stream),
        Route("/resume/{index:int}", resume),
        Route("/connections", connections),
        Route("/results/{client:str}", results, methods=["POST"]),
        Route("/{name:str}", harness_file),
    ]
)
