"""Churn: 1,000 connect/disconnect cycles against a real uvicorn leave nothing behind.

The cycles take turns ending in the four ways of `support.reliability.churn.CHURN_KINDS` (read
an event then FIN, FIN before the response started, a sync producer, a TCP RST). After them the
server must be where it was after its warm-up: the same tasks, the same file descriptors, no
stream objects left alive, RSS within `RSS_GROWTH_AFTER_CHURN_MAX`, and every producer's
cleanup run exactly once.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from support.reliability.churn import RSS_GROWTH_AFTER_CHURN_MAX, churn
from support.reliability.common import FD_SLACK, MIB, TRACEBACK

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's /proc"),
]

CYCLES = 1000


def test_a_thousand_connect_disconnect_cycles_leave_nothing_behind(tmp_path: Path) -> None:
    result = churn(tmp_path, CYCLES)
    samples = ", ".join(
        f"{n}: {s.tasks} tasks {s.fds} fds {s.rss / MIB:.1f} MiB" for n, s in result.samples
    )
    print(
        f"{CYCLES} cycles in {result.seconds:.1f} s, settled {result.settle_seconds} s later; "
        f"RSS growth {result.rss_growth / 1024:.0f} KiB, objects {result.object_growth:+d}, "
        f"tasks {result.baseline.tasks} -> {result.after.tasks}, "
        f"fds {result.baseline.fds} -> {result.after.fds}; during: {samples}"
    )
    assert result.cleanups.wrong == [], (
        f"{len(result.cleanups.wrong)} producers whose cleanup did not run exactly once, "
        f"e.g. {result.cleanups.wrong[:5]}"
    )
    assert result.not_started == [], result.not_started[:5]
    assert result.after.tasks == result.baseline.tasks
    assert result.after.fds <= result.baseline.fds + FD_SLACK
    assert result.after.leftovers(result.baseline) == {}
    assert result.rss_growth < RSS_GROWTH_AFTER_CHURN_MAX, (
        f"server RSS grew by {result.rss_growth / MIB:.1f} MiB over {CYCLES} cycles"
    )
    assert TRACEBACK not in result.log, result.log[-3000:]
