"""EventSourceResponse on the wire: the bytes each item becomes, the headers, and the
parameters it refuses.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.scripted_asgi import Client, finite, run

from sse_core import ServerSentEvent as CoreEvent
from sse_starlette_binding import EventSourceResponse, JSONServerSentEvent, ServerSentEvent

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_items_are_written_with_sse_starlettes_separator_and_field_order(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        items = [
            "plain text",
            {"event": "update", "id": "7", "data": {"n": 1}, "retry": 1000},
            ServerSentEvent("a\nb", event="multi", comment="note"),
            JSONServerSentEvent({"ok": True}),
            CoreEvent("core"),
            b"data: pre-encoded\r\n\r\n",
        ]
        await client.run(EventSourceResponse(finite(*items), ping=0))

    run(backend, scenario)
    assert client.raw == (
        b"data: plain text\r\n\r\n"
        b'id: 7\r\nevent: update\r\ndata: {"n":1}\r\nretry: 1000\r\n\r\n'
        b": note\r\nevent: multi\r\ndata: a\r\ndata: b\r\n\r\n"
        b'data: {"ok":true}\r\n\r\n'
        b"data: core\r\n\r\n"
        b"data: pre-encoded\r\n\r\n"
    )
    assert client.completed


def test_pydantic_models_and_json_values_are_sent_as_compact_json(backend: str) -> None:
    # Runs in the workspace; skipped where the binding is tested with only its own dependencies.
    pytest.importorskip("pydantic", reason="pydantic is not a dependency of the binding")
    from pydantic import BaseModel  # noqa: PLC0415 (only once pydantic is known to be there)

    class Point(BaseModel):
        x: int
        label: str

    client = Client()

    async def scenario() -> None:
        items = [Point(x=1, label="é"), [1, None, True], 2.5]
        await client.run(EventSourceResponse(finite(*items), ping=0, sep="\n"))

    run(backend, scenario)
    assert client.raw == b'data: {"x":1,"label":"\xc3\xa9"}\n\ndata: [1,null,true]\n\ndata: 2.5\n\n'


def test_the_streams_separator_wins_over_an_events_own(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        event = ServerSentEvent("x\ny", sep="\r\n")
        await client.run(EventSourceResponse(finite(event, "z"), sep="\n", ping=0))

    run(backend, scenario)
    assert client.raw == b"data: x\ndata: y\n\ndata: z\n\n"


def test_headers_suit_an_event_stream_and_cache_control_can_be_overridden(backend: str) -> None:
    default, custom = Client(), Client()

    async def scenario() -> None:
        await default.run(EventSourceResponse(finite("x"), ping=0))
        headers = {"cache-control": "public, max-age=5", "X-Custom": "1"}
        await custom.run(EventSourceResponse(finite("x"), ping=0, headers=headers))

    run(backend, scenario)
    assert default.headers == {
        "cache-control": "no-store",
        "x-accel-buffering": "no",
        "content-type": "text/event-stream; charset=utf-8",
    }
    assert custom.headers["cache-control"] == "public, max-age=5"
    assert custom.headers["x-custom"] == "1"
    assert "connection" not in custom.headers  # hop-by-hop: forbidden in HTTP/2


def test_a_websocket_scope_gets_a_denial_response(backend: str) -> None:
    client = Client(scope_type="websocket")

    async def scenario() -> None:
        await client.run(EventSourceResponse(finite("x"), ping=0, status_code=403))

    run(backend, scenario)
    assert client.messages[0]["type"] == "websocket.http.response.start"
    assert client.messages[0]["status"] == 403
    assert {m["type"] for m in client.messages[1:]} == {"websocket.http.response.body"}
    assert client.raw == b"data: x\r\n\r\n"
    assert client.completed


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"sep": "\n\n"}, ValueError, "sep must be one of"),
        ({"ping": -1}, ValueError, "ping must be >= 0"),
        ({"ping": "15"}, TypeError, "ping must be a number"),
        ({"send_timeout": float("nan")}, ValueError, "send_timeout must be >= 0"),
        ({"shutdown_grace_period": -0.5}, ValueError, "shutdown_grace_period must be >= 0"),
        ({"cleanup_timeout": -1}, ValueError, "cleanup_timeout must be >= 0"),
        ({"retry": -1}, ValueError, "retry"),
        ({"retry": True}, TypeError, "retry"),
    ],
)
def test_bad_parameters_are_refused_with_their_name(
    backend: str, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    del backend
    with pytest.raises(error, match=message):
        EventSourceResponse(finite(), **kwargs)
