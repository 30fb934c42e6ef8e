"""The FastAPI test app (``support/fastapi_app.py``) served by a real uvicorn.

What only a real server shows: a dependency with ``yield`` (a sqlite connection) that stays open
for the whole stream and closes after it when the client leaves and when the process is told to
stop; error statuses and a POST token stream over real HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest
from support.fastapi_app import DATABASE_ENV, session_states
from support.http_client import HTTPResponse, open_request
from support.servers import ServerProcess, run_server, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux"),
]

TESTS_DIR: Final = Path(__file__).resolve().parents[1]  # where `support` is importable from
APP: Final = "support.fastapi_app:app_from_env"
UVICORN_ARGS: Final = ("--factory", "--loop", "uvloop", "--http", "httptools")
EVENT_END: Final = b"\n\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    database = str(tmp_path / "app.sqlite")
    env = {DATABASE_ENV: database}
    with run_server(
        "uvicorn", TESTS_DIR, tmp_path, app=APP, extra_args=UVICORN_ARGS, env=env
    ) as server:
        yield server, database


async def read_blocks(response: HTTPResponse, count: int) -> list[bytes]:
    return [block for _ in range(count) if (block := await response.read_block(EVENT_END))]


async def read_rest(response: HTTPResponse) -> list[bytes]:
    """The rest of the stream's blocks, keep-alive pings left out."""
    blocks = []
    while (block := await response.read_block(EVENT_END)) is not None:
        if not block.startswith(b": ping - "):
            blocks.append(block)
    return blocks


def test_sigterm_ends_open_streams_with_a_goodbye_and_closes_their_dependencies(
    served: tuple[ServerProcess, str],
) -> None:
    server, database = served
    rows_streams, note_streams = 10, 5

    async def scenario() -> tuple[list[list[bytes]], list[list[bytes]], float | None]:
        rows = [await open_request(server.port, "/db?idle=true") for _ in range(rows_streams)]
        notes = [await open_request(server.port, "/notes") for _ in range(note_streams)]
        for response in rows:
            assert len(await read_blocks(response, 3)) == 3
        for response in notes:
            assert await read_blocks(response, 1) == [b": subscribed\n\n"]
        assert session_states(database) == ["open"] * rows_streams
        server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        rest_of_rows = [await read_rest(response) for response in rows]
        rest_of_notes = [await read_rest(response) for response in notes]
        exited = await wait_until(server.exited, 5) is not None
        assert all(response.complete for response in [*rows, *notes])
        for response in [*rows, *notes]:
            await response.aclose()
        return rest_of_rows, rest_of_notes, time.monotonic() - started if exited else None

    rest_of_rows, rest_of_notes, exit_seconds = asyncio.run(scenario())
    assert exit_seconds is not None, f"uvicorn still running 5 s after SIGTERM:\n{server.log()}"
    assert exit_seconds < 3
    assert rest_of_rows == [[b"event: bye\ndata: goodbye\n\n"]] * rows_streams
    assert rest_of_notes == [[b"event: bye\ndata: server restarting\n\n"]] * note_streams
    assert session_states(database) == ["closed"] * rows_streams
    assert "Traceback" not in server.log()


def test_a_client_that_leaves_closes_the_streams_dependencies(
    served: tuple[ServerProcess, str],
) -> None:
    server, database = served

    async def scenario() -> bool:
        response = await open_request(server.port, "/db?idle=true")
        assert len(await read_blocks(response, 3)) == 3
        assert session_states(database) == ["open"]
        await response.aclose()
        return await wait_until(lambda: session_states(database) == ["closed"], 3) is not None

    assert asyncio.run(scenario()), session_states(database)
    assert "Traceback" not in server.log()


def test_errors_before_the_first_event_and_a_post_token_stream_over_http(
    served: tuple[ServerProcess, str],
) -> None:
    server, _ = served

    async def scenario() -> None:
        refused = await open_request(server.port, "/ticks?count=-1")
        assert refused.status == 404
        assert json.loads(await refused.read_to_end()) == {"detail": "no such count"}
        await refused.aclose()

        body = json.dumps({"text": "streams of tokens"}).encode()
        chat = await open_request(
            server.port,
            "/chat",
            method="POST",
            headers=[
                ("Accept", "text/event-stream"),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
            ],
            body=body,
        )
        assert chat.status == 200
        assert chat.header("content-type") == "text/event-stream; charset=utf-8"
        tokens = await read_rest(chat)
        assert tokens == [
            b'data: {"index":0,"text":"streams"}\n\n',
            b'data: {"index":1,"text":"of"}\n\n',
            b'data: {"index":2,"text":"tokens"}\n\n',
        ]
        assert chat.complete
        await chat.aclose()

    asyncio.run(scenario())


def test_send_timeout_drops_a_client_that_stops_reading_and_closes_its_dependencies(
    served: tuple[ServerProcess, str],
) -> None:
    server, database = served

    async def scenario() -> bool:
        stalled = await open_request(server.port, "/flood", rcvbuf=4096, limit=4096)
        try:
            assert stalled.status == 200
            dropped = await wait_until(lambda: session_states(database) == ["closed"], 5)
            # uvicorn logs the error after the request's dependencies have closed.
            logged = await wait_until(lambda: "SendTimeoutError" in server.log(), 2)
            return dropped is not None and logged is not None
        finally:
            await stalled.aclose()

    assert asyncio.run(scenario()), f"not dropped: {session_states(database)}\n{server.log()}"
