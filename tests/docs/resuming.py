"""A reconnect as a browser makes it: with the id of the last event received, and no other."""

from __future__ import annotations

__all__ = ["drop_and_resume"]

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sse_core import ParsedEvent
    from sse_starlette_binding.testing import EventStreamClient


async def drop_and_resume(
    client: EventStreamClient, path: str, *, before: int, after: int
) -> tuple[list[ParsedEvent], str, list[ParsedEvent]]:
    """The first `before` events of `path`; the ``Last-Event-ID`` a browser would send after
    the connection dropped; the first `after` events of a reconnect that sends it.

    The id sent back is the one the client's parser kept, never one the test makes up: a
    stream whose events carry no id gets no ``Last-Event-ID`` (asserted), as in a browser. It
    is the id of the last event received, which may come after the `before` events returned
    (the client reads what the server has sent so far).
    """
    async with client.stream(path) as stream:
        first = await stream.collect(max_events=before)
        sent_back = stream.last_event_id
    assert len(first) == before
    assert sent_back, f"{path}: no event carries an id, so a browser sends no Last-Event-ID"
    async with client.stream(path, last_event_id=sent_back) as stream:
        rest = await stream.collect(max_events=after)
    assert len(rest) == after
    return first, sent_back, rest
