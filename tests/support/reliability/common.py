"""What every reliability scenario shares: the app it serves and how, the
record of which producers started and which cleanups ran, and small bounded waits.
"""

from __future__ import annotations

__all__ = [
    "APP",
    "APP_DIR",
    "FD_SLACK",
    "MIB",
    "TRACEBACK",
    "UVICORN_ARGS",
    "UVICORN_H11_ARGS",
    "Cleanups",
    "ScenarioError",
    "all_cleaned",
    "async_wait_until",
    "get_text",
    "record_counts",
]

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from support.http_client import open_request

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from support.servers import ServerProcess

APP_DIR: Final = Path(__file__).resolve().parents[1]
"""Where ``reliability_app.py`` is: tests/support."""
APP: Final = "reliability_app:app"
# The same uvicorn as the other real-server tests, without the access log: thousands of
# requests would bury the lines a scenario looks for (errors, tracebacks) and cost CPU.
UVICORN_ARGS: Final = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")
# h11 limits a request head to 16 KiB; httptools sets no limit.
UVICORN_H11_ARGS: Final = ("--loop", "uvloop", "--http", "h11", "--no-access-log")
TRACEBACK: Final = "Traceback (most recent call last)"
MIB: Final = 1 << 20
FD_SLACK: Final = 2
"""Server fds may settle this many above the baseline (a log file reopened, say)."""


class ScenarioError(AssertionError):
    """A scenario could not run to the end (a deadline passed, a request failed)."""


async def async_wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float, *, poll: float = 0.05
) -> float | None:
    """`wait_until` for a condition that has to ask the server."""
    start = time.monotonic()
    while True:
        if await condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        await asyncio.sleep(poll)


async def get_text(port: int, path: str, *, timeout: float = 10.0) -> tuple[int, str]:
    """One plain request: its status and its whole body as text."""
    response = await open_request(port, path, headers=(("Connection", "close"),), timeout=timeout)
    try:
        body = await asyncio.wait_for(response.read_to_end(), timeout)
    finally:
        await response.aclose()
    return response.status, body.decode()


def record_counts(records: Sequence[str], what: str) -> dict[str, int]:
    """How many times each stream id appears in a record line ``"<what> <id>"``."""
    counts: dict[str, int] = {}
    prefix = what + " "
    for line in records:
        if line.startswith(prefix):
            stream_id = line[len(prefix) :]
            counts[stream_id] = counts.get(stream_id, 0) + 1
    return counts


@dataclass
class Cleanups:
    """Starts and cleanups recorded for a set of stream ids."""

    total: int
    started: int
    cleaned: int
    """Ids whose cleanup ran exactly once."""
    wrong: list[str] = field(default_factory=list)
    """Ids whose cleanup count is not their start count (never ran, or ran twice)."""

    @classmethod
    def of(cls, records: Sequence[str], ids: Sequence[str]) -> Cleanups:
        starts = record_counts(records, "start")
        cleanups = record_counts(records, "cleanup")
        wrong = [
            stream_id
            for stream_id in ids
            if cleanups.get(stream_id, 0) != starts.get(stream_id, 0)
            or starts.get(stream_id, 0) > 1
        ]
        return cls(
            total=len(ids),
            started=sum(1 for stream_id in ids if starts.get(stream_id, 0) == 1),
            cleaned=sum(1 for stream_id in ids if cleanups.get(stream_id, 0) == 1),
            wrong=wrong,
        )


def all_cleaned(server: ServerProcess, ids: Sequence[str]) -> bool:
    """Whether every one of `ids` that started has had its cleanup run exactly once."""
    return not Cleanups.of(server.records(), ids).wrong
