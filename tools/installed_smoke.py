"""A smoke stream for one installed distribution, run inside the venv it was installed into.

``python installed_smoke.py sse-core`` (or ``sse-starlette-binding``, ``sse-fastapi-binding``,
``sse-broadcast``, ``all``): each check streams a few events the way a user's first program
would and reads them back with sse_core's parser, then says which files it imported, so the
caller can tell the venv's installed copy ran, not a source tree. Exits non-zero on any mismatch.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's item type from its
# return annotation, which must be a real object, not a string naming a local class.
import importlib
import importlib.util
import sys
from collections.abc import AsyncIterator, Callable
from types import ModuleType


def check_core() -> ModuleType:
    """Encode an event with every field and a multi-line data, parse it back."""
    import sse_core  # noqa: PLC0415 (each check imports only what its venv has)

    event = sse_core.ServerSentEvent("line 1\nline 2", event="tick", id="7", retry=1000)
    wire = sse_core.encode(event)
    parsed = sse_core.EventParser().feed(wire)
    assert [(p.event, p.data, p.id) for p in parsed] == [("tick", "line 1\nline 2", "7")], parsed
    return sse_core


def check_starlette_binding() -> ModuleType:
    """A Starlette endpoint streams three events through the binding's in-process client."""
    import anyio  # noqa: PLC0415
    from starlette.applications import Starlette  # noqa: PLC0415
    from starlette.requests import Request  # noqa: PLC0415
    from starlette.routing import Route  # noqa: PLC0415

    import sse_core  # noqa: PLC0415
    import sse_starlette_binding  # noqa: PLC0415
    from sse_starlette_binding.testing import EventStreamClient  # noqa: PLC0415

    async def ticks(request: Request) -> sse_starlette_binding.EventSourceResponse:
        start = int(request.headers.get("last-event-id", "0")) + 1

        async def stream() -> AsyncIterator[dict[str, object]]:
            for n in range(start, start + 3):
                yield {"event": "tick", "id": str(n), "data": {"n": n}}

        return sse_starlette_binding.EventSourceResponse(stream())

    app = Starlette(routes=[Route("/ticks", ticks)])

    async def main() -> None:
        async with (
            EventStreamClient(app) as client,
            client.stream("/ticks", last_event_id="4") as stream,
        ):
            assert stream.status == 200, stream.status
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = await stream.collect(timeout=5.0)
            body = b"".join(
                message.get("body", b"")
                for message in stream.messages
                if message["type"] == "http.response.body"
            )
        assert [(e.id, e.data) for e in events] == [(str(n), f'{{"n":{n}}}') for n in (5, 6, 7)]
        # The wire bytes themselves, through the core's parser: the same three events.
        assert sse_core.EventParser().feed(body) == events, body

    anyio.run(main)
    return sse_starlette_binding


def check_fastapi_binding() -> ModuleType:
    """A typed FastAPI endpoint yields pydantic models; they arrive as their JSON."""
    from typing import Annotated  # noqa: PLC0415

    import anyio  # noqa: PLC0415
    from fastapi import FastAPI  # noqa: PLC0415
    from pydantic import BaseModel  # noqa: PLC0415

    import sse_core  # noqa: PLC0415
    import sse_fastapi_binding as binding  # noqa: PLC0415
    from sse_starlette_binding.testing import EventStreamClient  # noqa: PLC0415

    class Tick(BaseModel):
        n: int

    app = FastAPI()
    binding.enable_event_streams(app)

    @app.get("/ticks", response_class=binding.EventSourceResponse)
    async def ticks(
        stream: Annotated[binding.EventStream[Tick], binding.Stream()],
    ) -> AsyncIterator[Tick]:
        for n in range(3):
            yield Tick(n=n)

    async def main() -> None:
        async with EventStreamClient(app) as client, client.stream("/ticks") as stream:
            assert stream.status == 200, stream.status
            events = await stream.collect(timeout=5.0)
        assert [e.data for e in events] == ['{"n":0}', '{"n":1}', '{"n":2}'], events
        assert all(isinstance(e, sse_core.ParsedEvent) for e in events)

    anyio.run(main)
    return binding


def check_broadcast() -> ModuleType:
    """Publish on the memory backend; a live subscriber and a resumed one get their events."""
    import anyio  # noqa: PLC0415

    import sse_broadcast  # noqa: PLC0415
    import sse_core  # noqa: PLC0415

    async def main() -> None:
        async with sse_broadcast.Broadcast() as broadcast:
            # Entered before the first publish: a live subscriber from then on.
            async with broadcast.subscribe("smoke") as live:
                ids = [await broadcast.publish("smoke", f"event {n}") for n in range(3)]
                await broadcast.publish("smoke", {"event": "done", "data": ""}, final=True)
                received = [event async for event in live]
            resumed = [event async for event in broadcast.subscribe("smoke", last_event_id=ids[0])]
        assert [e.id for e in received[:3]] == ids, (received, ids)
        assert [e.data for e in received] == ["event 0", "event 1", "event 2", ""], received
        assert [e.data for e in resumed] == ["event 1", "event 2", ""], resumed
        # What a browser would receive for them: the same ids and data through the parser.
        wire = sse_core.encode_many(received)
        assert [p.id for p in sse_core.EventParser().feed(wire)][:3] == ids

    anyio.run(main)
    if importlib.util.find_spec("redis") is not None:
        # Installed with the redis extra: the backend's module imports (no server needed).
        importlib.import_module("sse_broadcast.redis")
    return sse_broadcast


CHECKS: dict[str, Callable[[], ModuleType]] = {
    "sse-core": check_core,
    "sse-starlette-binding": check_starlette_binding,
    "sse-fastapi-binding": check_fastapi_binding,
    "sse-broadcast": check_broadcast,
}


def main(argv: list[str]) -> int:
    """Run the named check (or all four) and print where each module was imported from."""
    names = list(CHECKS) if argv == ["all"] else argv
    if not names or any(name not in CHECKS for name in names):
        print(f"usage: installed_smoke.py {{{','.join(CHECKS)}}}... | all", file=sys.stderr)
        return 2
    for name in names:
        module = CHECKS[name]()
        print(f"{name} {module.__version__}: smoke stream ok ({module.__file__})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
