"""Slow consumers: clients that connect to a fast stream and never read.

Each stalled client fills the buffers between it and its producer (its 4 KiB receive window,
the kernel's send buffer, the server's write buffer, one pending write) and then holds a write
that cannot finish. What a user must see:

- the server's memory stays bounded: `RSS_PER_STALLED_CLIENT_MAX` per stalled client, however
  long it stalls (the producer waits for the client; a producer that ran ahead would take
  gigabytes in the seconds measured);
- with `send_timeout` they are dropped (their producers stopped, `SendTimeoutError` logged)
  while still connected; without it they are held, at that bounded cost, until they leave,
  and then dropped;
- a healthy stream next to them keeps its median latency within 2x of its median alone
  (`latency_bound`: below 1 ms, a median counts as 1 ms, because loopback medians are a
  tenth of a millisecond and scheduling noise alone can double them).

This is the only timed assertion of the reliability tests: the issue asks for it. It compares
medians of 150 events each, measured in the same run.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from support.reliability.common import FD_SLACK, MIB
from support.reliability.slow_consumers import (
    RSS_PER_STALLED_CLIENT_MAX,
    latency_bound,
    slow_consumers,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's /proc"),
]

STALLED = 50


@pytest.mark.parametrize("send_timeout", [1.0, None], ids=["send_timeout=1", "no-send_timeout"])
def test_clients_that_stop_reading_cost_bounded_memory_and_slow_no_one(
    tmp_path: Path, send_timeout: float | None
) -> None:
    result = slow_consumers(tmp_path, STALLED, send_timeout=send_timeout)
    print(
        f"{STALLED} stalled clients, send_timeout={send_timeout}: healthy stream alone "
        f"{result.unloaded.describe()}; next to them {result.loaded.describe()}; "
        f"server RSS +{result.rss_growth / MIB:.1f} MiB at most; "
        f"{result.dropped_while_stalled} dropped while stalled "
        f"(all within {result.drop_seconds} s); fds while stalled {result.fds_while_stalled}"
    )
    bound = latency_bound(result.unloaded.p50)
    assert result.loaded.p50 <= bound, (
        f"the healthy stream's median latency went from {result.unloaded.p50 * 1e3:.2f} ms "
        f"to {result.loaded.p50 * 1e3:.2f} ms (bound {bound * 1e3:.2f} ms)"
    )
    assert result.healthy_gaps == 0
    assert result.rss_growth < STALLED * RSS_PER_STALLED_CLIENT_MAX, (
        f"server RSS grew by {result.rss_growth / MIB:.1f} MiB with {STALLED} stalled clients"
    )
    if send_timeout is not None:
        assert result.dropped_while_stalled == STALLED
        assert result.send_timeout_errors == STALLED, result.log[-3000:]
    else:
        # Nothing can tell a stalled client from a slow one: it is held until it leaves.
        assert result.dropped_while_stalled == 0
        assert result.send_timeout_errors == 0
    # Once the clients left, whatever was still held is released and cleaned up once.
    assert result.cleanups.wrong == [], result.cleanups.wrong[:5]
    assert result.cleanups.cleaned == STALLED
    assert result.after.tasks == result.baseline.tasks
    assert result.after.fds <= result.baseline.fds + FD_SLACK
