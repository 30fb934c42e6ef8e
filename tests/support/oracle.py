"""What a client receives from a list of events, computed from the events alone (no parser)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sse_core import ParsedEvent, ServerSentEvent

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True, slots=True)
class ClientView:
    """The events a client dispatches, and the last event ID and retry it is left with."""

    events: list[ParsedEvent]
    last_event_id: str
    retry: int | None


def expected_client_view(
    events: Sequence[ServerSentEvent], *, ids_without_data_count: bool = True
) -> ClientView:
    """What a spec-compliant client makes of `encode_many(events)` (SPEC invariants 1-3).

    An event is dispatched iff it has data; CR and CRLF in data arrive as LF; the type is
    "message" when absent or empty; the last event ID is the last id sent, "" at first. With
    `ids_without_data_count=False`, the id of an event without data is ignored, as
    eventsource-parser@3 ignores it.
    """
    dispatched: list[ParsedEvent] = []
    last_event_id = ""
    retry: int | None = None
    for event in events:
        if event.id is not None and (ids_without_data_count or event.data is not None):
            last_event_id = event.id
        if event.retry is not None:
            retry = event.retry
        if event.data is not None:
            data = event.data.replace("\r\n", "\n").replace("\r", "\n")
            dispatched.append(ParsedEvent(event.event or "message", data, last_event_id))
    return ClientView(dispatched, last_event_id, retry)
