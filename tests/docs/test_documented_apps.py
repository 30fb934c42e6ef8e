"""The apps the packages' READMEs and docs/broadcast.md show do what their text says.

Each document's code runs as written (`support.markdown.run_document`) and its app is called
in process. Every app that reads ``Last-Event-ID`` is resumed as a browser resumes it, with the
id of the last event it received, which proves that its events carry ids.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
from support.markdown import ROOT, run_document

from docs.resuming import drop_and_resume
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from sse_core import ParsedEvent

STARLETTE = ROOT / "packages/sse-starlette-binding/README.md"
FASTAPI = ROOT / "packages/sse-fastapi-binding/README.md"
BROADCAST = ROOT / "packages/sse-broadcast/README.md"
BROADCAST_GUIDE = ROOT / "docs/broadcast.md"


def numbers(events: list[ParsedEvent]) -> list[str]:
    return [event.data for event in events]


def test_the_starlette_readme_ticks_resume_after_a_drop(backend: str) -> None:
    with run_document(STARLETTE) as session:
        app = session.namespace["app"]

        async def scenario() -> tuple[list[ParsedEvent], str, list[ParsedEvent]]:
            async with EventStreamClient(app) as client:
                return await drop_and_resume(client, "/ticks", before=3, after=2)

        first, sent_back, rest = anyio.run(scenario, backend=backend)
    assert numbers(first) == ["1", "2", "3"]
    # The reconnect goes on right after the last tick received.
    after = int(sent_back)
    assert [(event.data, event.id) for event in rest] == [
        (str(n), str(n)) for n in (after + 1, after + 2)
    ]
    assert {event.event for event in first + rest} == {"tick"}


def test_the_fastapi_readme_ticks_resume_after_a_drop_and_refuse_with_a_status(
    backend: str,
) -> None:
    with run_document(FASTAPI) as session:
        app = session.namespace["app"]

        async def scenario() -> tuple[list[ParsedEvent], str, list[ParsedEvent], int, int | None]:
            async with EventStreamClient(app) as client:
                first, sent_back, rest = await drop_and_resume(
                    client, "/ticks?limit=5", before=3, after=2
                )
                async with client.stream("/ticks?limit=0") as refused:
                    await refused.collect()
                async with client.stream("/ticks?limit=2") as settings:
                    await settings.collect()
            return first, sent_back, rest, refused.status, settings.retry

        first, sent_back, rest, refused, retry = anyio.run(scenario, backend=backend)
    assert [json.loads(event.data) for event in first] == [{"n": 1}, {"n": 2}, {"n": 3}]
    after = int(sent_back)
    assert [(json.loads(event.data), event.id) for event in rest] == [
        ({"n": n}, str(n)) for n in (after + 1, after + 2)
    ]
    assert refused == 400
    assert retry == 3000


async def publish_with_endpoint(client: EventStreamClient, headline: Any) -> str:
    body = json.dumps(headline).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    async with client.stream("/publish", method="POST", body=body, headers=headers) as response:
        assert response.status == 200
        await response.collect()
    event_id: str = json.loads(response.raw)["id"]
    return event_id


def test_the_broadcast_readme_fans_out_and_resumes_after_a_drop(backend: str) -> None:
    with run_document(BROADCAST) as session:
        app, lifespan = session.namespace["app"], session.namespace["lifespan"]

        async def scenario() -> None:
            async with lifespan(app), EventStreamClient(app) as client:
                async with client.stream("/events") as alice, client.stream("/events") as bob:
                    await anyio.wait_all_tasks_blocked()
                    ids = [await publish_with_endpoint(client, {"n": n}) for n in range(3)]
                    for stream in (alice, bob):
                        (got,) = await stream.collect(max_events=1)
                        assert (got.event, json.loads(got.data), got.id) == (
                            "headline",
                            {"n": 0},
                            ids[0],
                        )
                        last = stream.last_event_id
                async with client.stream("/events", last_event_id=last) as resumed:
                    rest = await resumed.collect(max_events=2)
                assert [(event.id, json.loads(event.data)) for event in rest] == [
                    (ids[1], {"n": 1}),
                    (ids[2], {"n": 2}),
                ]

        anyio.run(scenario, backend=backend)


def test_the_broadcast_guide_app_replays_what_a_dropped_client_missed(backend: str) -> None:
    # Only the app's block: a later one rebinds `broadcast` to show the Redis backend.
    with run_document(BROADCAST_GUIDE, first=1) as session:
        app, lifespan = session.namespace["app"], session.namespace["lifespan"]
        broadcast = session.namespace["broadcast"]

        async def scenario() -> None:
            async with lifespan(app), EventStreamClient(app) as client:
                async with client.stream("/events") as stream:
                    await anyio.wait_all_tasks_blocked()
                    # As the block's last comment says, from elsewhere in the app.
                    headline = {"event": "headline", "data": {"title": "..."}}
                    first = await broadcast.publish("news", headline)
                    (got,) = await stream.collect(max_events=1)
                    assert (got.event, got.data, got.id) == ("headline", '{"title":"..."}', first)
                    last = stream.last_event_id
                missed = [await broadcast.publish("news", f"missed {n}") for n in range(2)]
                async with client.stream("/events", last_event_id=last) as resumed:
                    rest = await resumed.collect(max_events=2)
                assert [(event.id, event.data) for event in rest] == [
                    (missed[0], "missed 0"),
                    (missed[1], "missed 1"),
                ]

        anyio.run(scenario, backend=backend)
