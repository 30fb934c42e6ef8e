"""Scale: many concurrent idle streams in one uvicorn process, and what each one costs.

The full size (10,000 streams) is run by ``stress/reliability.py``; the test opens 1,000, which
needs no more open files than any machine allows.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from support.reliability.common import FD_SLACK, TRACEBACK
from support.reliability.scale import RSS_PER_IDLE_STREAM_MAX, TASKS_PER_IDLE_STREAM_MAX, scale

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's /proc"),
]

STREAMS = 1000


def test_a_thousand_idle_streams_cost_little_each_and_are_all_released(tmp_path: Path) -> None:
    result = scale(tmp_path, STREAMS)
    print(
        f"{STREAMS} idle streams opened in {result.open_seconds:.2f} s: "
        f"{result.rss_per_stream / 1024:.1f} KiB RSS, {result.tasks_per_stream:.2f} tasks, "
        f"{result.fds_per_stream:.2f} fds per stream; all released "
        f"{result.settle_seconds} s after the clients left"
    )
    assert result.rss_per_stream < RSS_PER_IDLE_STREAM_MAX
    assert result.tasks_per_stream <= TASKS_PER_IDLE_STREAM_MAX
    # One socket per stream, nothing else (no pipe, no timer fd).
    assert result.loaded.fds - result.baseline.fds <= STREAMS + FD_SLACK
    # Once the clients left: every producer cleaned up once, nothing left alive.
    assert result.cleanups.wrong == [], result.cleanups.wrong[:5]
    assert result.cleanups.cleaned == STREAMS
    assert result.after.tasks == result.baseline.tasks
    assert result.after.fds <= result.baseline.fds + FD_SLACK
    assert result.after.leftovers(result.baseline) == {}
    assert TRACEBACK not in result.log, result.log[-3000:]
