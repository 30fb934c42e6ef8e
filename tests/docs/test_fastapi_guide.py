"""docs/fastapi.md's code is one app: each of its endpoints does what the guide says.

The guide's blocks run in order as written (`support.markdown.run_document`); the app they
build is called in process. The guide's own test (its "Testing" section) runs with every
document's code, in tests/docs/test_code_blocks.py.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from openapi_spec_validator import validate
from support.markdown import ROOT, blocks, run_document

from docs.resuming import drop_and_resume
from sse_starlette_binding import notify_shutdown
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sse_core import ParsedEvent

GUIDE = ROOT / "docs" / "fastapi.md"


@pytest.fixture
def guide() -> Iterator[dict[str, Any]]:
    """The names the guide's code defines, its app among them."""
    with run_document(GUIDE) as session:
        assert session.failed == 0, session.report
        yield session.namespace


def payloads(events: list[ParsedEvent]) -> list[Any]:
    return [json.loads(event.data) for event in events]


def test_the_generator_and_the_post_stream_send_json_items(
    guide: dict[str, Any], backend: str
) -> None:
    async def scenario() -> tuple[list[ParsedEvent], list[ParsedEvent]]:
        body = json.dumps({"text": "streams of tokens"}).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        async with EventStreamClient(guide["app"]) as client:
            async with client.stream("/ticks?limit=3") as ticks:
                got_ticks = await ticks.collect()
            async with client.stream("/chat", method="POST", body=body, headers=headers) as chat:
                got_tokens = await chat.collect()
        return got_ticks, got_tokens

    ticks, tokens = anyio.run(scenario, backend=backend)
    assert ticks[0].data == '{"n":0}'  # as the block's comment says
    assert payloads(ticks) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert payloads(tokens) == [{"text": "streams"}, {"text": "of"}, {"text": "tokens"}]


def test_the_stream_dependency_example_resumes_after_a_drop(
    guide: dict[str, Any], backend: str
) -> None:
    async def scenario() -> tuple[list[ParsedEvent], str, list[ParsedEvent], int | None]:
        async with EventStreamClient(guide["app"]) as client:
            first, sent_back, rest = await drop_and_resume(
                client, "/resumable-ticks?limit=5", before=2, after=2
            )
            async with client.stream("/resumable-ticks?limit=1") as stream:
                await stream.collect()
        return first, sent_back, rest, stream.retry

    first, sent_back, rest, retry = anyio.run(scenario, backend=backend)
    assert payloads(first) == [{"n": 1}, {"n": 2}]
    after = int(sent_back)
    assert [(event.data, event.id) for event in rest] == [
        (json.dumps({"n": n}, separators=(",", ":")), str(n)) for n in (after + 1, after + 2)
    ]
    assert retry == 3000  # the Stream(...) settings of the alias


def test_the_feed_says_goodbye_on_shutdown(guide: dict[str, Any], backend: str) -> None:
    async def scenario() -> list[ParsedEvent]:
        async with (
            EventStreamClient(guide["app"]) as client,
            client.stream("/feed") as stream,
        ):
            events = await stream.collect(max_events=1)
            notify_shutdown()
            events += await stream.collect(timeout=5)
            assert stream.complete
        return events

    events = anyio.run(scenario, backend=backend)
    assert json.loads(events[0].data) == {"n": 1}
    assert (events[-1].event, events[-1].data) == ("bye", "server restarting")


def test_the_openapi_block_is_what_the_feed_is_documented_with(guide: dict[str, Any]) -> None:
    document = guide["app"].openapi()
    validate(document)
    (shown,) = [block for block in blocks(GUIDE) if block.language == "json"]
    media = document["paths"]["/feed"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    data = media["itemSchema"]["properties"]["data"]
    assert json.loads("{" + shown.body + "}") == {"data": data}
