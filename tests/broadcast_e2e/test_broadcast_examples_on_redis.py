"""The two broadcast examples served by several uvicorn workers on one Redis."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.http_client import open_request
from support.servers import run_server

from sse_starlette_binding.testing import open_event_stream

if TYPE_CHECKING:
    from support.redis import RedisServer

    from sse_core import ParsedEvent

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
UVICORN_ARGS = ("--log-level", "warning", "--timeout-graceful-shutdown", "2")

pytestmark = [pytest.mark.slow, pytest.mark.redis]


async def post_json(port: int, path: str, body: object = None) -> dict[str, str]:
    data = b"" if body is None else json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    response = await open_request(port, path, method="POST", headers=headers, body=data)
    try:
        assert response.status == 200, response.status
        answer: dict[str, str] = json.loads(await asyncio.wait_for(response.read_to_end(), 30))
    finally:
        await response.aclose()
    return answer


async def read_events(
    port: int, path: str, *, last_event_id: str | None = None, max_events: int | None = None
) -> tuple[list[ParsedEvent], bool]:
    """Events from `path` until `max_events` or the end of the response; and whether the
    server completed it."""
    url = f"http://127.0.0.1:{port}{path}"
    async with open_event_stream(url, last_event_id=last_event_id, timeout=30) as stream:
        events = await stream.collect(max_events=max_events, timeout=30)
        return events, stream.complete


def test_a_run_is_followed_on_one_worker_resumed_on_another_and_replayed(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    env = {"REDIS_URL": redis_server.url}

    async def scenario(worker_a: int, worker_b: int) -> None:
        run = (await post_json(worker_a, "/runs"))["run"]  # produced by worker A
        path = f"/runs/{run}/events"
        first, _ = await read_events(worker_b, path, max_events=3)  # then the client drops
        rest, complete = await read_events(worker_a, path, last_event_id=first[-1].id)
        assert complete, "the run's final event ends the stream"
        events = first + rest
        assert [event.event for event in events[:-1]] == ["token"] * (len(events) - 1)
        assert events[-1].event == "done"
        text = "".join(json.loads(event.data)["text"] for event in events[:-1])
        assert text.strip().startswith("Server-Sent Events resume")
        assert len({event.id for event in events}) == len(events)
        # After the end, any worker replays the whole run.
        replay, complete = await read_events(worker_b, path)
        assert complete
        assert [event.id for event in replay] == [event.id for event in events]

    with (
        run_server(
            "uvicorn", EXAMPLES, tmp_path, app="starlette_broadcast:app",
            extra_args=UVICORN_ARGS, env=env,
        ) as worker_a,
        run_server(
            "uvicorn", EXAMPLES, tmp_path, app="starlette_broadcast:app",
            extra_args=UVICORN_ARGS, env=env,
        ) as worker_b,
    ):  # fmt: skip
        asyncio.run(scenario(worker_a.port, worker_b.port))
        for worker in (worker_a, worker_b):
            assert "Traceback" not in worker.log(), worker.log_tail()


def test_fastapi_notes_with_two_workers_reach_a_client_that_keeps_reconnecting(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    notes = 200

    async def post_notes(port: int) -> None:
        for n in range(1, notes + 1):  # each POST lands on either worker: the kernel picks
            await post_json(port, "/notes", {"author": "ann", "text": f"note {n}"})

    async def follow(port: int, last_id: str) -> list[ParsedEvent]:
        received: list[ParsedEvent] = []
        for _ in range(100):
            if len(received) == notes:
                return received
            # Read up to 25 notes, drop, and reconnect with the id of the last one.
            events, _ = await read_events(
                port, "/notes/events", last_event_id=last_id, max_events=25
            )
            received += events
            last_id = received[-1].id
        raise AssertionError(f"{len(received)} of {notes} notes after 100 connections")

    async def scenario(port: int) -> None:
        # The client starts after note 0, by its id: it must get every note after it.
        first_id = (await post_json(port, "/notes", {"author": "ann", "text": "note 0"}))["id"]
        received, _ = await asyncio.wait_for(
            asyncio.gather(follow(port, first_id), post_notes(port)), 120
        )
        texts = [json.loads(event.data)["text"] for event in received]
        assert texts == [f"note {n}" for n in range(1, notes + 1)]

    with run_server(
        "uvicorn",
        EXAMPLES,
        tmp_path,
        app="fastapi_broadcast:app",
        extra_args=(*UVICORN_ARGS, "--workers", "2"),
        env={"REDIS_URL": redis_server.url},
    ) as server:
        asyncio.run(scenario(server.port))
        assert "Traceback" not in server.log(), server.log_tail()
