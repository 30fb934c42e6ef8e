"""The toolkit's demo: one page with four live panels, served by uvicorn on 127.0.0.1:8000.

Run it with:  python3 -m pip install --quiet uv && python3 -m uv run python examples/demo.py
(``--port N`` serves on another port; 0 picks a free one). Open the URL it prints; stop it with
Ctrl-C: every open stream gets a goodbye event and ends, and the process exits.

- ``GET /clock?client=<name>``: a plain stream (an async generator), one tick a second. Tick n
  has the id n, so it resumes by itself: after a reconnect it replays the ticks after the
  client's ``Last-Event-ID``, then goes on live. ``POST /clock/drop?client=<name>`` ends that
  client's response, to show it: the browser's ``EventSource`` reconnects on its own.
- ``POST /answers``: an LLM-style answer, token by token. The tokens go to the run's
  sse-broadcast channel and the response follows that channel, so ``GET /answers/<run>`` with a
  ``Last-Event-ID`` header resumes a dropped answer where it stopped (or replays it whole, until
  its history expires).
- ``GET /notifications`` follows, ``POST /notifications`` publishes: fan-out to every open tab.

Each stream starts with a ``hello`` event (no id, so it does not move the browser's
``Last-Event-ID``) saying which id the server received and the number of the last event that
existed when the stream started: the events up to it are the replay.

A page opens two streams (clock, notifications) and one more while an answer runs: browsers
open at most six HTTP/1.1 connections per host, so two tabs fit and still leave room for
requests. (Behind an HTTP/2 proxy the limit does not apply.)

Everything lives in this process (sse-broadcast's memory backend): nothing to set up. The page
is ``examples/demo_page/``.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import socket
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sse_broadcast import Broadcast, MemoryBackend, Subscription
from sse_starlette_binding import EventSourceResponse, last_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import FrameType

    from anyio.abc import TaskGroup, TaskStatus
    from starlette.requests import Request

HOST: Final = "127.0.0.1"
PAGE_DIR: Final = Path(__file__).resolve().with_name("demo_page")
GRACE: Final = 2
"""Seconds an open stream has, once the server is told to stop, to send its goodbye."""
RETRY_MS: Final = 2000
"""How long a browser waits before it reconnects a dropped ``EventSource``."""
MAX_REPLAY: Final = 300
"""Ticks a reconnecting clock may replay; a client gone longer starts again from now."""
TOKEN_DELAY: Final = 0.15
GOODBYE: Final = {"event": "bye", "data": "the server is shutting down: goodbye"}
ANSWER: Final = (
    "Server-Sent Events are plain HTTP: the server keeps the response open and writes one "
    "event after another, each with an id. When the connection drops, the client asks again "
    "with the last id it received, and the server replays what it missed from the channel's "
    "history, so the answer goes on where it stopped instead of starting over."
)


@dataclass
class Demo:
    """What the routes share while the server runs."""

    broadcast: Broadcast
    stopping: anyio.Event
    """Set when the server is told to stop (by the binding, for the open streams)."""
    producers: TaskGroup
    published: dict[str, int] = field(default_factory=dict)
    """Per channel, the number of the last event published to it."""
    drops: set[str] = field(default_factory=set)
    """Clock clients whose connection is to be ended, to show a reconnect."""
    started: float = field(default_factory=time.monotonic)
    started_at: float = field(default_factory=time.time)

    def tick(self) -> int:
        """The number of the clock's latest tick: one a second since the server started."""
        return int(time.monotonic() - self.started)

    async def publish(self, channel: str, number: int, item: dict[str, Any], final: bool) -> None:
        await self.broadcast.publish(channel, item, final=final)
        self.published[channel] = number


def state(request: Request) -> Demo:
    return cast("Demo", request.app.state.demo)


def stream(demo: Demo, events: AsyncIterator[Any]) -> EventSourceResponse:
    # On Ctrl-C the binding sets `stopping` in every open stream and gives it GRACE seconds to
    # end by itself, with a goodbye, before it is cancelled.
    return EventSourceResponse(
        events, ping=15, shutdown_event=demo.stopping, shutdown_grace_period=GRACE, retry=RETRY_MS
    )


async def follow(
    demo: Demo, subscription: Subscription, hello: dict[str, Any]
) -> AsyncIterator[Any]:
    """A channel's events for one response: a hello, the replay and live events, a goodbye."""
    async with subscription:
        # Attached: every event up to `head` comes from the history (the replay), later ones live.
        head = demo.published.get(subscription.channel, 0)
        received = subscription.last_event_id
        yield {"event": "hello", "data": {**hello, "last_event_id": received, "head": head}}
        async for event in subscription:
            yield event
    # The subscription also ends after a run's final event; only a stopping server says bye.
    if demo.stopping.is_set():
        yield GOODBYE


async def clock(request: Request) -> EventSourceResponse:
    demo = state(request)
    client = request.query_params.get("client", "")
    received = last_event_id(request)
    head = demo.tick()
    # Resume after the client's last tick if it is one of this server's recent ticks; a fresh
    # client (or one from before a restart) starts at the current tick.
    last = int(received) if received and received.isdigit() else None
    first = last + 1 if last is not None and head - MAX_REPLAY <= last <= head else head

    async def ticks() -> AsyncIterator[dict[str, Any]]:
        yield {"event": "hello", "data": {"last_event_id": received, "head": head}}
        number = first
        while not demo.stopping.is_set():
            if client in demo.drops:
                demo.drops.discard(client)
                return  # the response completes; the browser reconnects with its Last-Event-ID
            if number <= demo.tick():
                at = time.strftime("%H:%M:%S", time.localtime(demo.started_at + number))
                yield {"event": "tick", "id": str(number), "data": {"n": number, "time": at}}
                number += 1
                continue
            with anyio.move_on_after(demo.started + number - time.monotonic()):
                await demo.stopping.wait()
        yield GOODBYE

    return stream(demo, ticks())


async def drop_clock(request: Request) -> Response:
    state(request).drops.add(request.query_params.get("client", ""))
    return Response(status_code=204)


async def ask(request: Request) -> EventSourceResponse:
    demo = state(request)
    question = (await request.body()).decode("utf-8", errors="replace")[:200]
    run = secrets.token_hex(4)
    channel = f"answers/{run}"
    demo.published[channel] = 0
    # Subscribed from the run's first event, so tokens published before the response starts
    # are not lost; the producer runs whether or not anyone is listening.
    subscription = demo.broadcast.subscribe(channel, from_start=True)
    demo.producers.start_soon(produce_answer, demo, channel, question)
    return stream(demo, follow(demo, subscription, {"run": run, "question": question}))


async def produce_answer(demo: Demo, channel: str, question: str) -> None:
    words = ANSWER.split(" ")
    for number, word in enumerate(words, start=1):
        token = word if number == len(words) else word + " "
        await demo.publish(
            channel, number, {"event": "token", "data": {"n": number, "text": token}}, False
        )
        await anyio.sleep(TOKEN_DELAY)
    # The final event ends every follower's stream; "data" makes browsers dispatch it.
    await demo.publish(channel, len(words) + 1, {"event": "done", "data": question}, True)


async def resume_answer(request: Request) -> Response:
    demo = state(request)
    run = request.path_params["run"]
    channel = f"answers/{run}"
    if channel not in demo.published:
        return JSONResponse({"error": f"no run {run!r}"}, status_code=404)
    subscription = demo.broadcast.subscribe(
        channel, last_event_id=last_event_id(request), from_start=True
    )
    return stream(demo, follow(demo, subscription, {"run": run}))


async def notifications(request: Request) -> EventSourceResponse:
    demo = state(request)
    subscription = demo.broadcast.subscribe("notifications", last_event_id=last_event_id(request))
    return stream(demo, follow(demo, subscription, {}))


async def notify(request: Request) -> JSONResponse:
    demo = state(request)
    try:
        note = await request.json()
        item = {
            "event": "note",
            "data": {"from": str(note["from"])[:40], "text": str(note["text"])[:280]},
        }
    except (ValueError, LookupError, TypeError):
        return JSONResponse({"error": 'expected {"from": ..., "text": ...}'}, status_code=400)
    number = demo.published.get("notifications", 0) + 1
    await demo.publish("notifications", number, item, False)
    return JSONResponse({"number": number})


app = Starlette(
    routes=[
        Route("/clock", clock),
        Route("/clock/drop", drop_clock, methods=["POST"]),
        Route("/answers", ask, methods=["POST"]),
        Route("/answers/{run}", resume_answer),
        Route("/notifications", notifications),
        Route("/notifications", notify, methods=["POST"]),
        Mount("/", StaticFiles(directory=PAGE_DIR, html=True)),
    ],
)


@asynccontextmanager
async def running(stopping: anyio.Event) -> AsyncIterator[Demo]:
    """The broadcast and the producers, for as long as the server runs (the app's state)."""
    async with anyio.create_task_group() as tasks:
        app.state.demo = await tasks.start(_run_channels, stopping)
        try:
            yield app.state.demo
        finally:
            stopping.set()


async def _run_channels(stopping: anyio.Event, *, task_status: TaskStatus[Demo]) -> None:
    # Not in the app's lifespan: uvicorn runs its shutdown only after every connection closed,
    # and a stream that follows a channel ends only when the broadcast stops. So the broadcast
    # stops as soon as `stopping` is set; every subscription then ends, and its stream says
    # goodbye within the grace period.
    backend = MemoryBackend(history=1000, ttl=600)
    async with Broadcast(backend) as broadcast, anyio.create_task_group() as producers:
        demo = Demo(broadcast, stopping, producers)
        task_status.started(demo)
        await stopping.wait()
        producers.cancel_scope.cancel()


class Server(uvicorn.Server):
    """uvicorn, with a Ctrl-C that always ends in a clean exit."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Stop serving. Unlike uvicorn's own handler, a second Ctrl-C (or the copy of the signal
        # that `uv run` forwards when it has no terminal) does not force an exit that would cut
        # the goodbyes short: `timeout_graceful_shutdown` bounds the shutdown anyway. Nor is the
        # signal raised again once the server has stopped, so the process exits 0.
        self.should_exit = True


async def serve(sock: socket.socket) -> None:
    stopping = anyio.Event()
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", timeout_graceful_shutdown=GRACE + 1
    )
    async with running(stopping):
        await Server(config).serve(sockets=[sock])


def listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        sys.exit(f"cannot listen on {HOST}:{port} ({exc.strerror}); try --port 8001, or 0")
    sock.listen(128)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Server-Sent Events demo page.")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args(argv)
    with listen(args.port) as sock:
        # Listening already: a browser that connects now waits in the backlog, never refused.
        print(f"SSE demo: http://{HOST}:{sock.getsockname()[1]}/  (Ctrl-C stops it)", flush=True)
        # Ctrl-C belongs to the server while it runs (it stops it cleanly). Just before it starts
        # and once it has stopped there is nothing to interrupt, and a late copy of the signal
        # (`uv run` forwards one when it has no terminal) must not turn a clean exit into a
        # traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        anyio.run(serve, sock)
    print("demo stopped", flush=True)


if __name__ == "__main__":
    main()
