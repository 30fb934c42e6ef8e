"""The broadcast example in examples/ does what its docstring says."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import anyio
from support.examples import load_example

from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    import pytest


JSON = {"Content-Type": "application/json"}


async def post(
    client: EventStreamClient, path: str, body: bytes = b"", *, json_body: bool = False
) -> dict[str, str]:
    headers = {"Content-Length": str(len(body)), **(JSON if json_body else {})}
    async with client.stream(path, method="POST", body=body, headers=headers) as response:
        assert response.status == 200, response.status
        await response.collect()
        answer: dict[str, str] = json.loads(response.raw)
    return answer


def test_a_run_is_followed_resumed_after_a_drop_and_replayed_whole(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load_example("starlette_broadcast")
    monkeypatch.setattr(example, "TOKEN_DELAY", 0.001)
    words = example.ANSWER.split(" ")

    async def scenario() -> None:
        async with example.lifespan(example.app), EventStreamClient(example.app) as client:
            run = (await post(client, "/runs"))["run"]
            path = f"/runs/{run}/events"
            async with client.stream(path) as stream:
                first = await stream.collect(max_events=3)
            # The client dropped mid-run; it resumes with the id of the last event it got.
            async with client.stream(path, last_event_id=first[-1].id) as stream:
                rest = await stream.collect()  # until the run's "done" ends the stream
                assert stream.complete
            tokens = [json.loads(event.data)["text"] for event in first + rest[:-1]]
            assert tokens == [word + " " for word in words]
            assert rest[-1].event == "done"
            # After its end the run is replayed whole, to anyone, until its history expires.
            async with client.stream(path) as stream:
                replay = await stream.collect()
            assert [event.id for event in replay] == [event.id for event in first + rest]

    anyio.run(scenario, backend=backend)


def test_rooms_fan_out_and_refuse_names_that_are_not_channels(backend: str) -> None:
    example = load_example("starlette_broadcast")

    async def scenario() -> None:
        async with example.lifespan(example.app), EventStreamClient(example.app) as client:
            async with (
                client.stream("/rooms/lobby/events") as alice,
                client.stream("/rooms/lobby/events") as bob,
            ):
                await anyio.wait_all_tasks_blocked()
                said = (await post(client, "/rooms/lobby", b"hello"))["id"]
                for stream in (alice, bob):
                    (event,) = await stream.collect(max_events=1)
                    assert (event.data, event.id) == ("hello", said)
            async with client.stream("/rooms/caf%C3%A9", method="POST") as refused:
                assert refused.status == 400
                await refused.collect()
                assert "invalid channel name" in json.loads(refused.raw)["error"]

    anyio.run(scenario, backend=backend)


def test_fastapi_notes_reach_every_follower_and_resume_after_a_drop(backend: str) -> None:
    example = load_example("fastapi_broadcast")
    note = json.dumps({"author": "ann", "text": "hello"}).encode()

    async def scenario() -> None:
        async with example.broadcast, EventStreamClient(example.app) as client:
            async with client.stream("/notes/events") as first:
                # The headers come at once, before any note (hold_headers=False).
                assert first.status == 200
                await anyio.wait_all_tasks_blocked()
                ids = [(await post(client, "/notes", note, json_body=True))["id"] for _ in range(3)]
                (got,) = await first.collect(max_events=1)
            assert (got.event, json.loads(got.data), got.id) == (
                "note",
                {"author": "ann", "text": "hello"},
                ids[0],
            )
            async with client.stream("/notes/events", last_event_id=got.id) as resumed:
                rest = await resumed.collect(max_events=2)
            assert [event.id for event in rest] == ids[1:]

    anyio.run(scenario, backend=backend)
