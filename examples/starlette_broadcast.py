"""A Starlette app with resumable fan-out: chat rooms, and LLM-style runs any client can follow.

Serve it with:  uv run uvicorn --app-dir examples starlette_broadcast:app
With REDIS_URL=redis://host:6379/0 in the environment the channels live on Redis, and several
workers or hosts share them (add --workers 2). Then open http://127.0.0.1:8000/ in two browser
tabs, or use curl:

    curl -N http://127.0.0.1:8000/rooms/lobby/events                     # follow a room
    curl -X POST -d 'hello' http://127.0.0.1:8000/rooms/lobby            # say something
    curl -X POST http://127.0.0.1:8000/runs                              # start a run
    curl -N http://127.0.0.1:8000/runs/<run>/events                      # follow it, whole
    curl -N -H 'Last-Event-ID: <id>' http://127.0.0.1:8000/runs/<run>/events   # resume

A browser that loses its connection reconnects with the id of the last event it got and
receives exactly what it missed (or a "gap" event if the history no longer holds it). A run's
stream ends after its "done" event; its history stays for `ttl` seconds, so a client can
replay the whole run until then.
"""

from __future__ import annotations

import os
import secrets
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from sse_broadcast import Backend, Broadcast, InvalidChannelError, MemoryBackend
from sse_starlette_binding import EventSourceResponse, last_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request


def make_backend() -> Backend:
    # Channels in this process; with REDIS_URL set, on Redis, shared by every worker (and
    # nothing else in the app changes).
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        from sse_broadcast.redis import RedisBackend  # noqa: PLC0415 (needs the redis extra)

        return RedisBackend.from_url(redis_url, history=1000, ttl=600, prefix="example:")
    return MemoryBackend(history=1000, ttl=600)


broadcast = Broadcast(make_backend())

TOKEN_DELAY = 0.05  # seconds between a run's tokens; tests make it shorter

PAGE = """<!doctype html>
<title>broadcast</title>
<button id="run">start a run</button>
<form id="say"><input id="text" placeholder="say something in the lobby"></form>
<pre id="log"></pre>
<script>
  const log = document.getElementById("log");
  const show = (line) => { log.textContent += line + "\\n"; };
  const room = new EventSource("/rooms/lobby/events");
  room.onmessage = (e) => show(`lobby: ${e.data}`);
  room.addEventListener("gap", (e) => show(`(missed some messages: ${e.data})`));
  document.getElementById("say").onsubmit = async (e) => {
    e.preventDefault();
    const text = document.getElementById("text");
    await fetch("/rooms/lobby", { method: "POST", body: text.value });
    text.value = "";
  };
  document.getElementById("run").onclick = async () => {
    const { run } = await (await fetch("/runs", { method: "POST" })).json();
    const source = new EventSource(`/runs/${run}/events`);
    let text = "";
    source.addEventListener("token", (e) => { text += JSON.parse(e.data).text; });
    source.addEventListener("done", () => { show(`run ${run}: ${text}`); source.close(); });
  };
</script>
"""

ANSWER = "Server-Sent Events resume where they left off, on any worker."


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def say(request: Request) -> JSONResponse:
    text = (await request.body()).decode("utf-8", errors="replace")
    event_id = await broadcast.publish(f"rooms/{request.path_params['room']}", text)
    return JSONResponse({"id": event_id})


async def room_events(request: Request) -> EventSourceResponse:
    # Live messages, and after a reconnect everything since the last one the client got.
    channel = f"rooms/{request.path_params['room']}"
    subscription = broadcast.subscribe(channel, last_event_id=last_event_id(request))
    return EventSourceResponse(subscription, ping=15)


async def start_run(request: Request) -> JSONResponse:
    run = secrets.token_hex(4)
    request.app.state.runs.start_soon(produce_run, run)
    return JSONResponse({"run": run})


async def produce_run(run: str) -> None:
    # The producer publishes to the run's channel, whoever is listening (maybe nobody yet).
    channel = f"runs/{run}"
    for word in ANSWER.split(" "):
        await broadcast.publish(channel, {"event": "token", "data": {"text": word + " "}})
        await anyio.sleep(TOKEN_DELAY)
    # The final event ends every follower's stream; "data" makes browsers dispatch it.
    await broadcast.publish(channel, {"event": "done", "data": ""}, final=True)


async def run_events(request: Request) -> EventSourceResponse:
    # The whole run from its first token (even if it started before the client came), or the
    # rest of it after the client's Last-Event-ID.
    channel = f"runs/{request.path_params['run']}"
    subscription = broadcast.subscribe(
        channel, last_event_id=last_event_id(request), from_start=True
    )
    return EventSourceResponse(subscription, ping=15)


async def bad_channel(request: Request, exc: Exception) -> JSONResponse:
    # A room or run name that cannot be a channel (a space, a non-ASCII letter...).
    return JSONResponse({"error": str(exc)}, status_code=400)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with broadcast, anyio.create_task_group() as runs:
        app.state.runs = runs
        yield
        runs.cancel_scope.cancel()


app = Starlette(
    routes=[
        Route("/", page),
        Route("/health", health),
        Route("/rooms/{room}", say, methods=["POST"]),
        Route("/rooms/{room}/events", room_events),
        Route("/runs", start_run, methods=["POST"]),
        Route("/runs/{run}/events", run_events),
    ],
    lifespan=lifespan,
    exception_handlers={InvalidChannelError: bad_channel},
)
