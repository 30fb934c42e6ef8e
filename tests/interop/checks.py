"""The checks: what a client received from a case against what the spec says it receives,
and a failure message that says where they differ.
"""

from __future__ import annotations

__all__ = [
    "as_js_number",
    "check_fastapi_case",
    "check_resume_case",
    "check_stream_case",
    "disagreement",
    "reconnection_delays",
]

import json
from typing import TYPE_CHECKING

import pytest
from support.oracle import expected_client_view

from interop.cases.fastapi_binding import RAW_TEXT, json_payloads
from interop.cases.kinds import END_EVENT, Case, FastAPICase, ResumeCase, StreamCase
from interop.clients import EVENTSOURCE_PARSER, SSE_CORE, ClientRuns, Run
from interop.expected import (
    DEFAULT_RECONNECTION_MS,
    Entry,
    expected_connections,
    expected_fastapi_log,
    expected_resume_log,
    expected_stream_log,
)
from sse_core import encode_many

if TYPE_CHECKING:
    from collections.abc import Sequence


def _short(value: object, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _first_difference(got: Sequence[Entry], want: Sequence[Entry]) -> str:
    for index, (left, right) in enumerate(zip(got, want, strict=False)):
        if left != right:
            return f"entry {index}: got {_short(left)}, expected {_short(right)}"
    if len(got) < len(want):
        return (
            f"got {len(got)} entries, expected {len(want)}; first missing: {_short(want[len(got)])}"
        )
    return f"got {len(got)} entries, expected {len(want)}; first extra: {_short(got[len(want)])}"


def disagreement(client: str, case: Case, what: str, got: object, want: object) -> str:
    """The failure message: which client, which case, what differs, and the case's wire."""
    lines = [f"{client} disagrees with the spec on case {case.name!r}: {what}"]
    if isinstance(got, list) and isinstance(want, list):
        lines.append(f"first difference at {_first_difference(got, want)}")
    lines += [
        f"expected: {_short(want, 2000)}",
        f"got:      {_short(got, 2000)}",
        f"case: {_short(case.describe(), 2000)}",
    ]
    if isinstance(case, StreamCase):
        wire = encode_many([*case.events, END_EVENT], line_terminator=case.sep)
        lines.append(f"wire (as sse_core encodes it): {_short(wire, 2000)}")
    elif isinstance(case, FastAPICase):
        wire = encode_many(case.events)  # LF line ends, as the FastAPI binding writes
        lines.append(
            f"wire (the events the items stand for, as sse_core encodes them): {_short(wire, 2000)}"
        )
    return "\n".join(lines)


def as_js_number(value: int | None) -> int | None:
    """`value` as a JS number holds it: the nearest IEEE double (exact up to 2**53)."""
    return None if value is None else int(float(value))


def reconnection_delays(run: Run) -> list[int]:
    """Milliseconds from each error with readyState CONNECTING to whatever came next."""
    return [
        run.times[index + 1] - run.times[index]
        for index, entry in enumerate(run.log[:-1])
        if entry == ("error", "CONNECTING")
    ]


def check_stream_case(client: str, runs: ClientRuns, case: StreamCase) -> None:
    run = runs.run(case)
    if client == EVENTSOURCE_PARSER:
        # eventsource-parser reports the id of each message's own block and forgets the id of
        # a block that dispatches nothing, so it never sees an id sent without data (a browser
        # does: "If the field value does not contain U+0000 NULL, then set the event stream's
        # last event ID buffer to the field value"). A limit of its API, not of the stream:
        # its expected events follow that rule (as in tests/sse_core/test_node_crosscheck.py).
        want = expected_stream_log(case, ids_without_data_count=False)[1:]
        if case.sep == "\r":
            # eventsource-parser holds back a CR that ends its input, in case the next chunk
            # starts with LF (a CRLF split between chunks), and only then ends the line. So with
            # CR line endings the blank line that ends an event is not seen until more bytes
            # arrive, and the stream's last event is never dispatched (WHATWG: a line ends with
            # "a single U+000D CARRIAGE RETURN (CR) character" as well; a browser dispatches
            # at once). Modelled here, and one reason sse_core discourages bare-CR line endings.
            want = want[:-1]
    else:
        want = expected_stream_log(case)
    _check_log_and_retry(client, case, run, want)


def _check_log_and_retry(
    client: str, case: StreamCase | FastAPICase, run: Run, want: object
) -> None:
    """The events `client` logged are `want`, and the retry it kept is the stream's."""
    if run.log != want:
        pytest.fail(disagreement(client, case, "events", run.log, want), pytrace=False)
    if client in {SSE_CORE, EVENTSOURCE_PARSER}:
        # WHATWG: "If the field value consists of only ASCII digits, then interpret the field
        # value as an integer in base ten, and set the event stream's reconnection time to that
        # integer." (Browsers do not expose it; the resume cases measure it instead.)
        expected_retry = expected_client_view(case.events).retry
        if client == EVENTSOURCE_PARSER:
            expected_retry = as_js_number(expected_retry)
        if run.retry != expected_retry:
            message = disagreement(client, case, "retry", run.retry, expected_retry)
            pytest.fail(message, pytrace=False)


def _parsed_json(text: str) -> object:
    try:
        return json.loads(text)  # as strict as JSON.parse: no raw control characters
    except ValueError as exc:
        return f"<not JSON: {exc}>"


def check_fastapi_case(client: str, runs: ClientRuns, case: FastAPICase) -> None:
    """What `client` received from FastAPI case `case` is what WHATWG says it receives.

    Failures go through `pytest.fail`, not ``assert``: pytest's own explanation of a failed
    ``==`` diffs both sides, which takes minutes on these values (strings of 300,000
    characters), where `disagreement` already says where they differ."""
    run = runs.run(case)
    if client == EVENTSOURCE_PARSER:
        # Its events only, and no id of an event without data (as in check_stream_case). LF
        # line ends: no CR held back at the end.
        want = expected_fastapi_log(case, ids_without_data_count=False)[1:-1]
    else:
        want = expected_fastapi_log(case)
    # Typed data is JSON: each must parse back to exactly the item's fields (when the events
    # line up; otherwise the log comparison below says what is missing or extra).
    received = [entry[2] for entry in run.log if entry[0] == "event"]
    payloads = json_payloads(case)
    if len(received) == len(payloads):
        for number, (data, payload) in enumerate(zip(received, payloads, strict=True)):
            if payload is not RAW_TEXT:
                parsed = _parsed_json(data)
                if parsed != payload:
                    what = f"JSON.parse() of the data of event {number}"
                    pytest.fail(disagreement(client, case, what, parsed, payload), pytrace=False)
    _check_log_and_retry(client, case, run, want)


def check_resume_case(client: str, runs: ClientRuns, case: ResumeCase) -> None:
    run = runs.run(case)
    connections = expected_connections(case)
    if client == EVENTSOURCE_PARSER:
        # Each body on its own: only each event's type and data can be compared, since the
        # parser starts every body with an empty last event ID and has no reconnection.
        want_events = [
            (event.event, event.data)
            for connection in connections
            for event in connection.events or ()
        ]
        got_events = [(entry[1], entry[2]) for entry in run.log]
        if got_events != want_events:
            what = "(type, data) of the events of each connection"
            pytest.fail(disagreement(client, case, what, got_events, want_events), pytrace=False)
        return
    want = expected_resume_log(case)
    if run.log != want:
        what = "events and reconnections"
        pytest.fail(disagreement(client, case, what, run.log, want), pytrace=False)
    count = runs.connections.get(case.name, 0)
    if count != len(connections):
        what = "requests the server got"
        pytest.fail(disagreement(client, case, what, count, len(connections)), pytrace=False)
    # WHATWG, reestablishing the connection: "Wait a delay equal to the reconnection time of the
    # event source." Never sooner than `retry` (a little slack for timer rounding), and well
    # under the 3 s default, which would mean `retry` was ignored.
    low, high = case.retry * 0.95 - 2, DEFAULT_RECONNECTION_MS - 500
    for delay in reconnection_delays(run):
        assert low <= delay < high, disagreement(
            client,
            case,
            f"reconnection delay in ms after retry: {case.retry}",
            delay,
            f"{low:g} <= delay < {high}",
        )
