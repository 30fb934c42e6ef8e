"""Shutdown with many open streams: SIGTERM and SIGINT on uvicorn, hypercorn and granian,
under asyncio and, where the server supports it (hypercorn), trio.

The test runs 200 streams per server and signal; ``stress/reliability.py`` runs 1,000. Every
producer's cleanup must run, and the server must exit by itself (the deadline is only there so
that a server that would wait forever fails instead of hanging). uvicorn and granian complete
every response; hypercorn's worker never hears the signal and cancels its connections after
``--graceful-timeout``, so its clients see their responses cut, not completed.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

import pytest
from support.reliability.shutdown import SHUTDOWN_CASES, ShutdownCase, shutdown

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's /proc"),
]

STREAMS = 200
EXIT_DEADLINE = 20.0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("case", SHUTDOWN_CASES, ids=[case.name for case in SHUTDOWN_CASES])
def test_a_signal_ends_every_open_stream_and_runs_every_cleanup(
    tmp_path: Path, case: ShutdownCase, signum: signal.Signals
) -> None:
    result = shutdown(tmp_path, case, signum, STREAMS, exit_timeout=EXIT_DEADLINE)
    print(
        f"{case.name} {signum.name} with {STREAMS} streams: exit after "
        f"{result.exit_seconds} s (code {result.returncode}), clients {result.clients}, "
        f"cleanups {result.cleanups.cleaned}/{STREAMS}"
    )
    assert result.exit_seconds is not None, (
        f"{case.name} still running {EXIT_DEADLINE} s after {signum.name}; clients "
        f"{result.clients}; log:\n{result.log[-3000:]}"
    )
    assert result.cleanups.wrong == [], result.cleanups.wrong[:5]
    assert result.cleanups.cleaned == STREAMS
    if case.kind == "hypercorn":
        assert set(result.clients) <= {"complete", "cut"}, result.clients
    else:
        assert result.clients == {"complete": STREAMS}, result.clients
    assert result.app_tracebacks == 0, result.log[-3000:]
