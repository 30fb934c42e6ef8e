"""The FastAPI example in examples/ does what its docstring says."""

from __future__ import annotations

import json

import anyio
from openapi_spec_validator import validate
from support.examples import load_example

from sse_starlette_binding import notify_shutdown
from sse_starlette_binding.testing import EventStreamClient


def test_ticks_resume_after_the_last_event_id(backend: str) -> None:
    app = load_example("fastapi_chat").app

    async def scenario() -> list[tuple[str, int, str]]:
        async with (
            EventStreamClient(app) as client,
            client.stream("/ticks?interval=0.01", last_event_id="41") as stream,
        ):
            events = await stream.collect(max_events=3)
            notify_shutdown()
            await stream.collect(timeout=3)
            assert stream.complete
            assert stream.retry == 2000
        return [(event.event, json.loads(event.data)["n"], event.id) for event in events]

    assert anyio.run(scenario, backend=backend) == [
        ("tick", 42, "42"),
        ("tick", 43, "43"),
        ("tick", 44, "44"),
    ]


def test_chat_streams_tokens_and_refuses_with_a_status(backend: str) -> None:
    app = load_example("fastapi_chat").app
    headers = {"content-type": "application/json"}

    async def scenario() -> None:
        async with EventStreamClient(app) as client:
            body = json.dumps({"prompt": "hello there"}).encode()
            async with client.stream("/chat", method="POST", body=body, headers=headers) as chat:
                tokens = [json.loads(event.data)["text"] for event in await chat.collect()]
            assert "".join(tokens) == "You said: hello there "
            body = json.dumps({"prompt": "something forbidden"}).encode()
            async with client.stream("/chat", method="POST", body=body, headers=headers) as chat:
                await chat.collect()
            assert chat.status == 422
            assert json.loads(chat.raw) == {"detail": "the model declines this prompt"}

    anyio.run(scenario, backend=backend)


def test_messages_reach_everyone_in_the_room(backend: str) -> None:
    example = load_example("fastapi_chat")
    headers = {"content-type": "application/json"}

    async def scenario() -> None:
        async with EventStreamClient(example.app) as client:
            async with client.stream("/messages") as ann, client.stream("/messages") as bob:
                body = json.dumps({"author": "ann", "text": "hi"}).encode()
                async with client.stream(
                    "/messages", method="POST", body=body, headers=headers
                ) as publish:
                    await publish.collect()
                assert json.loads(publish.raw) == {"delivered": 2}
                for stream in (ann, bob):
                    (event,) = await stream.collect(max_events=1)
                    assert json.loads(event.data) == {"author": "ann", "text": "hi"}
            async with client.stream("/") as page:
                assert page.status == 200
        assert example.room.members == set()

    anyio.run(scenario, backend=backend)


def test_the_examples_openapi_document_is_valid() -> None:
    validate(load_example("fastapi_chat").app.openapi())
