"""Each example in examples/ that reads ``Last-Event-ID`` resumes as a browser resumes it.

The examples' own tests send a made-up ``Last-Event-ID``; these reconnect with the id of the
last event the client received, and nothing else, so they fail if an example's events carry
no id. (The core examples, the demo and the broadcast runs and notes are resumed that way by
their own tests: tests/examples and tests/broadcast_e2e.)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import anyio
import pytest
from support.examples import loaded_example

from docs.resuming import drop_and_resume
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from sse_core import ParsedEvent


@pytest.mark.parametrize(
    ("example", "number"),
    [("starlette_ticks", int), ("fastapi_chat", lambda data: json.loads(data)["n"])],
)
def test_the_ticks_go_on_after_the_last_one_received(
    example: str, number: object, backend: str
) -> None:
    assert callable(number)
    with loaded_example(example) as module:

        async def scenario() -> tuple[str, list[ParsedEvent]]:
            async with EventStreamClient(module.app) as client:
                _, sent_back, rest = await drop_and_resume(
                    client, "/ticks?interval=0.01", before=2, after=2
                )
            return sent_back, rest

        sent_back, rest = anyio.run(scenario, backend=backend)
    after = int(sent_back)
    assert [(number(event.data), event.id) for event in rest] == [
        (after + 1, str(after + 1)),
        (after + 2, str(after + 2)),
    ]


def test_a_room_replays_the_messages_a_dropped_client_missed(backend: str) -> None:
    with loaded_example("starlette_broadcast") as module:

        async def say(client: EventStreamClient, text: str) -> None:
            body = text.encode()
            headers = {"Content-Length": str(len(body))}
            async with client.stream(
                "/rooms/lobby", method="POST", body=body, headers=headers
            ) as response:
                await response.collect()  # the whole response: the message is published
            assert response.status == 200

        async def scenario() -> list[str]:
            async with module.lifespan(module.app), EventStreamClient(module.app) as client:
                async with client.stream("/rooms/lobby/events") as stream:
                    await anyio.wait_all_tasks_blocked()
                    await say(client, "before the drop")
                    await stream.collect(max_events=1)
                    sent_back = stream.last_event_id
                for text in ("missed 1", "missed 2"):
                    await say(client, text)
                async with client.stream("/rooms/lobby/events", last_event_id=sent_back) as again:
                    return [event.data for event in await again.collect(max_events=2)]

        assert anyio.run(scenario, backend=backend) == ["missed 1", "missed 2"]
