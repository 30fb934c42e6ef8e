"""The seam between replay and live events, as properties over any interleaving.

Any interleaving of publishes with a subscribe at any Last-Event-ID (one of the channel's ids,
another channel's, another history's, one from the future, garbage, none, or from the start)
yields exactly the events after that id, in order, once each, with a gap event first exactly
when the history does not hold them (`support.broadcast.check_seam` says it precisely).
"""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given, settings
from support.broadcast import SeamCase, run_seam_case, seam_cases

from sse_broadcast import Broadcast, MemoryBackend

HISTORIES = [1, 3, 8]


@pytest.mark.parametrize("history", HISTORIES)
@settings(max_examples=150)
@given(case=seam_cases())
def test_memory_backend_seam(history: int, case: SeamCase) -> None:
    async def scenario() -> None:
        async with Broadcast(MemoryBackend(history=history), buffer_size=100) as broadcast:
            await run_seam_case(broadcast, case, history)

    anyio.run(scenario)


@settings(max_examples=40)
@given(case=seam_cases())
def test_memory_backend_seam_under_trio(case: SeamCase) -> None:
    # trio schedules tasks in its own order: other interleavings than asyncio's.
    async def scenario() -> None:
        async with Broadcast(MemoryBackend(history=3), buffer_size=100) as broadcast:
            await run_seam_case(broadcast, case, 3)

    anyio.run(scenario, backend="trio")
