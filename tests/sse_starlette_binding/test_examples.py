"""The Starlette example in examples/ does what its docstring says."""

from __future__ import annotations

import anyio
from support.examples import load_example

from sse_starlette_binding import notify_shutdown
from sse_starlette_binding.testing import EventStreamClient


def test_ticks_resume_after_the_last_event_id_and_say_goodbye_on_shutdown(backend: str) -> None:
    app = load_example("starlette_ticks").app

    async def scenario() -> list[tuple[str, str, str]]:
        async with EventStreamClient(app) as client:
            async with client.stream("/ticks?interval=0.01", last_event_id="41") as stream:
                events = await stream.collect(max_events=3)
                notify_shutdown()
                events += await stream.collect(timeout=3)
                assert stream.complete
            async with client.stream("/") as page:
                assert page.status == 200
        return [(event.event, event.data, event.id) for event in events]

    events = anyio.run(scenario, backend=backend)
    assert events[:3] == [("tick", "42", "42"), ("tick", "43", "43"), ("tick", "44", "44")]
    assert events[-1][:2] == ("bye", "shutting down, see you soon")
    assert all(event == "tick" for event, _, _ in events[:-1])
