"""What a spec-compliant client receives from a case, computed from the case alone."""

from __future__ import annotations

__all__ = [
    "DEFAULT_RECONNECTION_MS",
    "Connection",
    "Entry",
    "connected_data",
    "event_entry",
    "expected_connections",
    "expected_fastapi_log",
    "expected_resume_log",
    "expected_stream_log",
]

import itertools
import json
from dataclasses import dataclass
from typing import Final, TypeAlias

from support.oracle import expected_client_view

from interop.cases.kinds import END_EVENT, E, FastAPICase, ResumeCase, StreamCase
from sse_core import ParsedEvent

DEFAULT_RECONNECTION_MS: Final = 3000
"""The reconnection time before any ``retry`` (WHATWG leaves it to the user agent; Chromium and
undici both use 3 s)."""
Entry: TypeAlias = tuple[str, ...]
"""One entry of a client's log: ("open",), ("event", type, data, lastEventId),
("error", readyState), ("timeout",), or ("exception", message) when the EventSource constructor
threw (see harness.mjs)."""


def event_entry(event: ParsedEvent) -> Entry:
    return ("event", event.event, event.data, event.id)


def expected_stream_log(case: StreamCase, *, ids_without_data_count: bool = True) -> list[Entry]:
    """The log of a spec-compliant client for a stream case: open, then the events dispatched
    (the end event last, with the last event ID the client holds)."""
    view = expected_client_view(
        [*case.events, END_EVENT], ids_without_data_count=ids_without_data_count
    )
    return [("open",), *map(event_entry, view.events)]


def expected_fastapi_log(case: FastAPICase, *, ids_without_data_count: bool = True) -> list[Entry]:
    """The log of a spec-compliant client for a FastAPI case: open, the events dispatched, then
    an error with readyState CONNECTING, as the response ends (WHATWG: "When a response ends
    [...] the user agent must reestablish the connection"; the harness closes the source
    there, and the sse_core client notes the same when no end event came)."""
    view = expected_client_view(case.events, ids_without_data_count=ids_without_data_count)
    return [("open",), *map(event_entry, view.events), ("error", "CONNECTING")]


def connected_data(connection: int, header: str | None) -> str:
    """The data of the ``connected`` event when the client sent `header` (None: no header) as
    UTF-8, as a browser does; interop_app.connected_data writes it."""
    raw = None if header is None else header.encode("utf-8").hex()
    return json.dumps(
        {"connection": connection, "last_event_id": header, "raw_header": raw}, sort_keys=True
    )


@dataclass(frozen=True, slots=True)
class Connection:
    """One connection of a resume case: the Last-Event-ID sent (None: none), and the events
    dispatched, or None when the server answered 204."""

    sent: str | None
    events: tuple[ParsedEvent, ...] | None


def expected_connections(case: ResumeCase) -> list[Connection]:
    """The connections a spec-compliant client makes in a resume case, and what each delivers.

    WHATWG, on reconnecting: "If the EventSource object's last event ID string is not the empty
    string, then: Let lastEventIDValue be the EventSource object's last event ID string, encoded
    as UTF-8. Set (`Last-Event-ID`, lastEventIDValue) in request's header list." The last event
    ID string outlives the connection ("remains set to this value until the next time it is set
    by the server"), so the ``connected`` event of a new connection carries the old id. And on a
    204: "if res's status is not 200 [...] fail the connection", and "Once the user agent has
    failed the connection, it does not attempt to reconnect."
    """
    ids = [event.id for event in case.log]
    last_id = ""
    connections = []
    for number in itertools.count(1):
        sent = last_id or None
        position = ids.index(sent) + 1 if sent is not None and sent in ids else 0
        if number > case.max_connections or position >= len(case.log):
            connections.append(Connection(sent, None))
            return connections
        connected = E(connected_data(number, sent), event="connected", retry=case.retry)
        dispatched = []
        for event in (connected, *case.log[position : position + case.page]):
            if event.id is not None:
                last_id = event.id
            if event.data is not None:
                data = event.data.replace("\r\n", "\n").replace("\r", "\n")
                dispatched.append(ParsedEvent(event.event or "message", data, last_id))
        connections.append(Connection(sent, tuple(dispatched)))
    raise AssertionError("unreachable")


def expected_resume_log(case: ResumeCase) -> list[Entry]:
    """The log of a spec-compliant client for a resume case: per connection, open, its events,
    and an error with readyState CONNECTING (the server ended the stream: "reestablish the
    connection"); the 204 gives an error with readyState CLOSED."""
    log: list[Entry] = []
    for connection in expected_connections(case):
        if connection.events is None:
            log.append(("error", "CLOSED"))
        else:
            log += [("open",), *map(event_entry, connection.events), ("error", "CONNECTING")]
    return log
