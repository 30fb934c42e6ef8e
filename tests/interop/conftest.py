"""The interop suite's fixtures: one uvicorn serving every case for the module, and one run of
each client over all the cases.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
from support.browser import BrowserUnavailable, browser_unavailable, headless_chromium
from support.node import NodeUnavailable, WorkerError, run_undici_harness, unavailable
from support.servers import run_server

from interop.cases import CASE_NAMES, all_cases
from interop.cases.kinds import Case, ResumeCase
from interop.clients import (
    CHROMIUM,
    EVENTSOURCE_PARSER,
    SSE_CORE,
    UNDICI,
    ClientRuns,
    InteropServer,
    Run,
    sse_core_resume,
    sse_core_stream,
)
from interop.expected import Entry, event_entry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from support.node import EventSourceParserWorker

APP_DIR: Final = Path(__file__).resolve().parent
HARNESS: Final = APP_DIR / "harness.mjs"
CASES_ENV: Final = "SSE_INTEROP_CASES"
RESULTS_ENV: Final = "SSE_INTEROP_RESULTS"
UVICORN_ARGS: Final = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")
BROWSER_DEADLINE: Final = 90.0
"""Seconds Chromium has to start, run every case and post its results."""


@pytest.fixture(scope="module")
def interop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteropServer]:
    """uvicorn serving every case, for the whole module."""
    work = tmp_path_factory.mktemp("interop")
    cases_path = work / "cases.json"
    cases = [case.to_json() for case in all_cases().values()]
    cases_path.write_text(json.dumps(cases), "utf-8")
    results_dir = work / "results"
    results_dir.mkdir()
    env = {CASES_ENV: str(cases_path), RESULTS_ENV: str(results_dir)}
    with run_server(
        "uvicorn", APP_DIR, work, app="interop_app:app", extra_args=UVICORN_ARGS, env=env
    ) as server:
        yield InteropServer(server, results_dir)


@pytest.fixture(scope="module")
def chromium_runs(
    interop_server: InteropServer, tmp_path_factory: pytest.TempPathFactory
) -> ClientRuns:
    """Every case in one headless Chromium page load; the browser is gone when this returns."""
    url = f"{interop_server.base_url}/harness.html?client={CHROMIUM}"
    work = tmp_path_factory.mktemp("chromium")
    started = time.monotonic()
    missing = None
    try:
        with headless_chromium(url, work) as browser:
            deadline = started + BROWSER_DEADLINE
            while interop_server.client_results(CHROMIUM) is None:
                if browser.exited():
                    pytest.fail(
                        f"Chromium exited (status {browser.process.returncode}) before posting "
                        f"results; its output:\n{browser.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"Chromium posted no results within {BROWSER_DEADLINE:.0f} s; its "
                        f"output:\n{browser.log_tail()}\nserver log:\n{interop_server.log_tail()}"
                    )
                time.sleep(0.05)
    except BrowserUnavailable as exc:
        missing = str(exc)
    if missing is not None:
        # Outside the except block, so that a failure in CI is one clear line.
        browser_unavailable(missing)
    print(f"chromium: {len(CASE_NAMES)} cases in {time.monotonic() - started:.1f} s")
    return interop_server.harness_runs(CHROMIUM)


@pytest.fixture(scope="module")
def undici_runs(interop_server: InteropServer) -> ClientRuns:
    """Every case through undici's EventSource on Node, in one Node process."""
    started = time.monotonic()
    missing = failed = None
    try:
        run_undici_harness(HARNESS, interop_server.base_url, client=UNDICI)
    except NodeUnavailable as exc:
        missing = str(exc)
    except WorkerError as exc:
        failed = f"{exc}\nserver log:\n{interop_server.log_tail()}"
    # Outside the except block, so that the failure or skip is one clear message.
    if missing is not None:
        unavailable(missing)
    if failed is not None:
        pytest.fail(failed, pytrace=False)
    print(f"undici: {len(CASE_NAMES)} cases in {time.monotonic() - started:.1f} s")
    return interop_server.harness_runs(UNDICI)


@pytest.fixture(scope="module")
def sse_core_runs(interop_server: InteropServer) -> ClientRuns:
    """Every case through the binding's HTTP test client (sse_core's parser), 8 at a time."""
    base_url = interop_server.base_url

    async def main() -> dict[str, Run]:
        limit = asyncio.Semaphore(8)

        async def one(case: Case) -> tuple[str, Run]:
            async with limit:
                if isinstance(case, ResumeCase):
                    return case.name, await sse_core_resume(base_url, case)
                return case.name, await sse_core_stream(base_url, case)

        return dict(await asyncio.gather(*map(one, all_cases().values())))

    started = time.monotonic()
    runs = asyncio.run(main())
    print(f"sse_core: {len(CASE_NAMES)} cases in {time.monotonic() - started:.1f} s")
    return ClientRuns(SSE_CORE, runs, interop_server.get_json(f"/connections?client={SSE_CORE}"))


@pytest.fixture(scope="module")
def eventsource_parser_runs(
    sse_core_runs: ClientRuns, eventsource_parser: EventSourceParserWorker
) -> ClientRuns:
    """eventsource-parser fed each body the sse_core client received (it is a parser: it has no
    HTTP and no reconnection of its own).

    Its log holds the events only (no open or error), in browser terms (see
    tests/support/eventsource_parser_worker.mjs); `retry` is the last one it reported."""
    runs = {}
    for name, run in sse_core_runs.runs.items():
        log: list[Entry] = []
        retry = None
        for body in run.bodies:
            parsed = eventsource_parser.parse([body])
            log += map(event_entry, parsed.events)
            retry = parsed.retry if parsed.retry is not None else retry
        runs[name] = Run(log, [0] * len(log), retry=retry)
    return ClientRuns(EVENTSOURCE_PARSER, runs, {})
