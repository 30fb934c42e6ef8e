"""What the clients received (a `Run` per case), the interop server they read from, and the
``sse_core`` client: the binding's HTTP test client with an EventSource's reconnect loop.
"""

from __future__ import annotations

__all__ = [
    "CASE_TIMEOUT",
    "CHROMIUM",
    "EVENTSOURCE_PARSER",
    "MAX_RECONNECTS",
    "SSE_CORE",
    "UNDICI",
    "ClientRuns",
    "InteropServer",
    "Run",
    "sse_core_resume",
    "sse_core_stream",
]

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pytest

from interop.cases import case_path
from interop.cases.kinds import END_TYPE, Case, FastAPICase, ResumeCase, StreamCase
from interop.expected import DEFAULT_RECONNECTION_MS, Entry, event_entry
from sse_core import EventParser
from sse_starlette_binding.testing import open_event_stream

if TYPE_CHECKING:
    from pathlib import Path

    from support.servers import ServerProcess

CHROMIUM: Final = "chromium"
UNDICI: Final = "undici"
SSE_CORE: Final = "sse_core"
EVENTSOURCE_PARSER: Final = "eventsource-parser"
CASE_TIMEOUT: Final = 15.0
"""Seconds the sse_core client waits for one response (the harness's own limit is the same)."""
MAX_RECONNECTS: Final = 20


@dataclass
class Run:
    """One client's run of one case: its log, and when (ms from the start) each entry came.

    The sse_core client also keeps each 200 response's body (what eventsource-parser reads) and
    the last retry it parsed."""

    log: list[Entry]
    times: list[int]
    bodies: list[bytes] = field(default_factory=list)
    retry: int | None = None


@dataclass
class ClientRuns:
    """Everything one client did: a `Run` per case name, and the requests the server counted
    per case name."""

    client: str
    runs: dict[str, Run]
    connections: dict[str, int]

    def run(self, case: Case) -> Run:
        run = self.runs.get(case.name)
        if run is None:
            raise AssertionError(f"{self.client} reported nothing for case {case.name!r}")
        return run


@dataclass
class InteropServer:
    """The uvicorn serving interop_app.py, and where clients' results land."""

    server: ServerProcess
    results_dir: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def get_json(self, path: str) -> Any:
        """GET `path` from the server and decode its JSON answer."""
        with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
            return json.loads(response.read())

    def client_results(self, client: str) -> dict[str, Any] | None:
        """What `client` posted to /results (None until it has)."""
        path = self.results_dir / f"{client}.json"
        if not path.exists():
            return None
        results: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return results

    def harness_runs(self, client: str) -> ClientRuns:
        """The runs the harness posted for `client`; fails the test if it could not finish."""
        results = self.client_results(client)
        if results is None:
            pytest.fail(f"{client} posted no results; server log:\n{self.log_tail()}")
        if "fatal" in results:
            pytest.fail(f"the harness failed in {client}:\n{results['fatal']}")
        runs = {
            name: Run([tuple(entry) for entry in run["log"]], list(run["times"]))
            for name, run in results["results"].items()
        }
        return ClientRuns(client, runs, self.get_json(f"/connections?client={client}"))

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.server.log().splitlines()[-lines:])


def _opened(status: int, content_type: str | None) -> bool:
    # WHATWG: "if res's status is not 200, or if res's `Content-Type` is not
    # `text/event-stream`, then fail the connection" (the type's essence: parameters aside).
    essence = (content_type or "").split(";")[0].strip().lower()
    return status == 200 and essence == "text/event-stream"


async def sse_core_stream(base_url: str, case: StreamCase | FastAPICase) -> Run:
    """A stream case (or a FastAPI one) through the binding's HTTP test client."""
    started = time.monotonic()
    run = Run([], [])

    def note(entry: Entry) -> None:
        run.log.append(entry)
        run.times.append(round((time.monotonic() - started) * 1000))

    url = f"{base_url}{case_path(case)}?client={SSE_CORE}"
    async with open_event_stream(url, timeout=CASE_TIMEOUT) as stream:
        if not _opened(stream.status, stream.headers.get("content-type")):
            note(("error", "CLOSED"))
            return run
        note(("open",))
        events = await stream.collect(timeout=CASE_TIMEOUT)
        for event in events:
            note(event_entry(event))
        if not events or events[-1].event != END_TYPE:
            note(("error", "CONNECTING"))  # the stream ended without the end event
        run.bodies.append(stream.raw)
        run.retry = stream.retry
    return run


async def sse_core_resume(base_url: str, case: ResumeCase) -> Run:
    """A resume case: the binding's HTTP test client for each connection, with the reconnect
    loop of an EventSource around it (the test client itself does not reconnect).

    Each body is parsed by a fresh `EventParser` that starts with the last event ID of the one
    before, as an EventSource's last event ID string outlives the connection; and the client
    waits the reconnection time (the last ``retry``, else 3 s) before reconnecting.
    """
    started = time.monotonic()
    run = Run([], [])

    def note(entry: Entry) -> None:
        run.log.append(entry)
        run.times.append(round((time.monotonic() - started) * 1000))

    url = f"{base_url}{case_path(case)}?client={SSE_CORE}"
    last_id = ""
    reconnection_ms = DEFAULT_RECONNECTION_MS
    for _ in range(MAX_RECONNECTS):
        async with open_event_stream(
            url, last_event_id=last_id or None, timeout=CASE_TIMEOUT
        ) as stream:
            if not _opened(stream.status, stream.headers.get("content-type")):
                note(("error", "CLOSED"))
                return run
            note(("open",))
            await stream.collect(timeout=CASE_TIMEOUT)
            body = stream.raw
        parser = EventParser(last_event_id=last_id)
        for event in parser.feed(body):
            note(event_entry(event))
        parser.close()
        run.bodies.append(body)
        last_id = parser.last_event_id
        if parser.retry is not None:
            reconnection_ms = run.retry = parser.retry
        note(("error", "CONNECTING"))
        await asyncio.sleep(reconnection_ms / 1000)
    note(("timeout",))
    return run
