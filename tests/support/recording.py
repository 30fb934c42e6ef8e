"""What the test apps served by real servers share: recording facts for the test to read.

A server process cannot tell a test what its producers did except through something both can
see: each fact is one line appended to the file named by ``$SSE_TEST_RECORD`` (which
`support.servers.run_server` sets), opened, appended and closed per line, so concurrent
writers are fine. Also the query-parameter parsing every test endpoint uses for its knobs.
"""

from __future__ import annotations

__all__ = ["RECORD_ENV", "health", "query_seconds", "record"]

import os
from typing import TYPE_CHECKING, Final

from starlette.responses import PlainTextResponse

if TYPE_CHECKING:
    from starlette.requests import Request

RECORD_ENV: Final = "SSE_TEST_RECORD"


def record(fact: str) -> None:
    """Append one line to the record file (a no-op when the variable is not set)."""
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as file:
        file.write(fact + "\n")


def query_seconds(request: Request, name: str, default: float | None = None) -> float | None:
    """The query parameter `name` as seconds; `default` when absent, None when "none"."""
    value = request.query_params.get(name)
    if value is None:
        return default
    return None if value == "none" else float(value)


async def health(request: Request) -> PlainTextResponse:
    """``GET /health``: what `run_server` waits for before it hands the server to a test."""
    return PlainTextResponse("ok")
