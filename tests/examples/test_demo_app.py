"""The demo's app (examples/demo.py), called in process: what each panel's stream sends.

tests/examples/test_demo.py runs the whole demo in a browser; these check the server's side of
each behaviour directly, under asyncio and trio, in well under a second each.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from support.examples import loaded_example

from sse_starlette_binding import notify_shutdown
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from types import ModuleType

    from sse_core import ParsedEvent


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    with loaded_example("demo") as module:
        monkeypatch.setattr(module, "TOKEN_DELAY", 0.001)
        yield module


@asynccontextmanager
async def serving(demo: ModuleType) -> AsyncIterator[EventStreamClient]:
    async with demo.running(anyio.Event()), EventStreamClient(demo.app) as client:
        yield client


def data(event: ParsedEvent) -> Any:
    return json.loads(event.data)


def test_a_dropped_answer_resumes_after_its_last_event_id(demo: ModuleType, backend: str) -> None:
    async def scenario() -> tuple[list[ParsedEvent], list[ParsedEvent]]:
        async with serving(demo) as client:
            async with client.stream("/answers", method="POST", body=b"why?") as first:
                before = await first.collect(max_events=5)
            # The client left after 4 tokens; it comes back with the last id it got.
            run = data(before[0])["run"]
            resume = client.stream(f"/answers/{run}", last_event_id=before[-1].id)
            async with resume as second:
                after = await second.collect()
                assert second.complete
        return before, after

    before, after = anyio.run(scenario, backend=backend)
    assert before[0].event == "hello"
    assert data(before[0])["last_event_id"] is None
    hello, *rest = after
    assert hello.event == "hello"
    assert data(hello)["last_event_id"] == before[-1].id
    tokens = [data(event) for event in before[1:] + rest if event.event == "token"]
    # Every token once, in order: the resume starts right after the last one received.
    assert [token["n"] for token in tokens] == list(range(1, len(tokens) + 1))
    assert "".join(token["text"] for token in tokens) == demo.ANSWER
    assert (rest[-1].event, rest[-1].data) == ("done", "why?")


def test_an_unknown_run_is_404(demo: ModuleType) -> None:
    async def scenario() -> int:
        async with serving(demo) as client, client.stream("/answers/nothing") as response:
            return response.status

    assert anyio.run(scenario) == 404


def test_a_malformed_notification_is_400_and_reaches_nobody(demo: ModuleType) -> None:
    async def scenario() -> tuple[list[int], list[ParsedEvent]]:
        async with serving(demo) as client, client.stream("/notifications") as tab:
            await tab.collect(max_events=1)
            statuses = []
            for body in (b"not json", b"[]", b'{"text": "no sender"}'):
                async with client.stream("/notifications", method="POST", body=body) as response:
                    statuses.append(response.status)
            return statuses, await tab.collect(timeout=0.2, stop_at_timeout=True)

    statuses, received = anyio.run(scenario)
    assert statuses == [400, 400, 400]
    assert received == []


def test_a_notification_reaches_every_open_tab(demo: ModuleType, backend: str) -> None:
    note = {"from": "tab-1", "text": "hello, every tab"}

    async def scenario() -> list[list[ParsedEvent]]:
        async with (
            serving(demo) as client,
            client.stream("/notifications") as one,
            client.stream("/notifications") as two,
        ):
            hellos = [await tab.collect(max_events=1) for tab in (one, two)]
            body = json.dumps(note).encode()
            async with client.stream("/notifications", method="POST", body=body) as response:
                assert response.status == 200
            return [
                hello + await tab.collect(max_events=1)
                for hello, tab in zip(hellos, (one, two), strict=True)
            ]

    for tab in anyio.run(scenario, backend=backend):
        assert [event.event for event in tab] == ["hello", "note"]
        assert data(tab[1]) == note
        assert tab[1].id


def test_the_clock_replays_the_ticks_after_the_last_event_id(
    demo: ModuleType, backend: str
) -> None:
    async def scenario() -> tuple[list[ParsedEvent], list[ParsedEvent]]:
        async with serving(demo) as client:
            demo.app.state.demo.started -= 5  # the server has been up for 5 seconds
            async with client.stream("/clock", last_event_id="2") as resumed:
                replayed = await resumed.collect(max_events=4)
            async with client.stream("/clock", last_event_id="not a tick") as fresh:
                new = await fresh.collect(max_events=2)
        return replayed, new

    replayed, new = anyio.run(scenario, backend=backend)
    assert data(replayed[0]) == {"last_event_id": "2", "head": 5}
    assert [event.id for event in replayed[1:]] == ["3", "4", "5"]
    # An id that is not one of this server's ticks starts the client at the current tick.
    assert data(new[0]) == {"last_event_id": "not a tick", "head": 5}
    assert new[1].id == "5", new


def test_on_shutdown_every_open_stream_says_goodbye_and_ends(
    demo: ModuleType, backend: str
) -> None:
    async def scenario() -> list[list[ParsedEvent]]:
        async with (
            serving(demo) as client,
            client.stream("/clock") as clock,
            client.stream("/notifications") as notes,
        ):
            for stream in (clock, notes):
                await stream.collect(max_events=1)
            notify_shutdown()  # what the binding's signal handler does on Ctrl-C
            ended = [await stream.collect(timeout=demo.GRACE + 1) for stream in (clock, notes)]
            assert clock.complete
            assert notes.complete
            return ended

    for events in anyio.run(scenario, backend=backend):
        assert (events[-1].event, events[-1].data) == (
            "bye",
            "the server is shutting down: goodbye",
        )
