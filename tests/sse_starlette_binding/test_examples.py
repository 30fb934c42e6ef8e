"""The Starlette example in examples/ does what its docstring says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from sse_starlette_binding import notify_shutdown
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from types import ModuleType

EXAMPLE = Path(__file__).parents[2] / "examples" / "starlette_ticks.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("starlette_ticks", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_ticks_resume_after_the_last_event_id_and_say_goodbye_on_shutdown(backend: str) -> None:
    app = load_example().app

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
