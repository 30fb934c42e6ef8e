"""Misbehaving producers, through a real uvicorn: ones that raise, hang, hold up their cleanup
or yield items that cannot be sent, three streams of each at once, one kind after another,
while a healthy stream ticks all along.

For each: the response ends complete (the last chunk arrives; the hanging ones stay open, kept
alive by pings, until their clients leave), the error is logged, every producer's cleanup runs
once, and the server goes on serving everyone else: the healthy stream misses no event, a new
request succeeds, and no task is left behind.

``tests/sse_starlette_binding/test_response_errors.py`` and its neighbours check the same paths
in process, event by event; this proves them against a real server, side by side with other
connections.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final

import pytest
from support.reliability.misbehaving import (
    ABANDONED_LOG,
    STREAM_ERROR_LOG,
    MisbehavingResult,
    MisbehaviourOutcome,
    misbehaving_producers,
)
from support.reliability_app import MISBEHAVIOURS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux's /proc"),
]

COPIES: Final = 3
CLEANUP_TIMEOUT: Final = 0.5


@dataclass(frozen=True)
class Expected:
    events: list[str]
    """The event types a client receives before the stream ends."""
    logged: str
    """What the server logs, once per stream ("" when nothing is wrong enough to log)."""


EXPECTED: Final = {
    "raise-first": Expected([], "RuntimeError: raise-first-0: failed before the first event"),
    "raise-later": Expected(["ok"], "RuntimeError: raise-later-0: failed after the first event"),
    "hang": Expected(["ok"], ""),
    "invalid-id": Expected(["ok"], "invalid 'id' field: must not contain a line break"),
    "invalid-none": Expected(["ok"], "TypeError: cannot encode None as an event"),
    "invalid-nan": Expected(["ok"], "invalid 'data' field: cannot be serialized as JSON"),
    "invalid-surrogate": Expected(["ok"], "cannot be encoded as UTF-8 (a lone surrogate)"),
    "invalid-object": Expected(["ok"], "Object of type object is not JSON serializable"),
    "slow-cleanup": Expected(["ok"], "Object of type object is not JSON serializable"),
    "swallowing-cleanup": Expected(["ok"], "Object of type object is not JSON serializable"),
}
ABANDONED: Final = f"took over {CLEANUP_TIMEOUT} seconds to close; abandoned it"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> MisbehavingResult:
    """One uvicorn, every kind in turn (about 5 s in all)."""
    return misbehaving_producers(
        tmp_path_factory.mktemp("misbehaving"), COPIES, cleanup_timeout=CLEANUP_TIMEOUT
    )


def outcome_of(result: MisbehavingResult, kind: str) -> MisbehaviourOutcome:
    [outcome] = [o for o in result.outcomes if o.kind == kind]
    print(
        f"{kind}: clients {outcome.clients}, events {outcome.events}, {outcome.pings} pings, "
        f"cleanups {outcome.cleanups.cleaned}/{COPIES} ({outcome.cleanups_done} finished), "
        f"ended after {outcome.seconds:.3f} s"
    )
    return outcome


def test_every_kind_is_covered() -> None:
    assert set(EXPECTED) == set(MISBEHAVIOURS)


@pytest.mark.parametrize("kind", [kind for kind in EXPECTED if kind != "hang"])
def test_the_stream_ends_complete_the_error_is_logged_the_cleanup_runs(
    result: MisbehavingResult, kind: str
) -> None:
    outcome = outcome_of(result, kind)
    expected = EXPECTED[kind]
    assert outcome.clients == {"complete": COPIES}
    assert outcome.events == expected.events
    assert outcome.cleanups.wrong == []
    assert outcome.cleanups.cleaned == COPIES
    assert outcome.log.count(STREAM_ERROR_LOG) == COPIES, outcome.log[-3000:]
    # Each stream's own error, with its traceback (the first stream's message, for the raises).
    assert expected.logged in outcome.log, outcome.log[-3000:]


def test_a_hanging_producer_keeps_its_stream_alive_with_pings_until_the_client_leaves(
    result: MisbehavingResult,
) -> None:
    outcome = outcome_of(result, "hang")
    assert outcome.clients == {"open": COPIES}
    assert outcome.events == ["ok"]
    assert outcome.pings >= 1
    # Waiting is not an error: nothing is logged. The clients left: every cleanup ran.
    assert outcome.log == ""
    assert outcome.cleanups.wrong == []
    assert outcome.cleanups.cleaned == COPIES


def test_a_cleanup_that_hangs_is_abandoned_after_cleanup_timeout(
    result: MisbehavingResult,
) -> None:
    """The producer yields an item that cannot be sent; closing it then awaits for an hour.
    `cleanup_timeout` cancels that, logs it, and the response is completed."""
    outcome = outcome_of(result, "slow-cleanup")
    assert outcome.clients == {"complete": COPIES}
    assert outcome.cleanups_done == 0  # cut short, not finished
    assert outcome.log.count(ABANDONED) == COPIES, outcome.log[-3000:]


def test_a_cleanup_that_swallows_the_cleanup_timeout_cancellation_is_logged(
    result: MisbehavingResult,
) -> None:
    """A producer whose cleanup catches the cancellation that `cleanup_timeout` sends, and
    returns, was cut short all the same: the warning is logged whenever the timeout fired, not
    only when the cancellation propagated (this once went unlogged)."""
    outcome = outcome_of(result, "swallowing-cleanup")
    assert outcome.clients == {"complete": COPIES}
    assert outcome.cleanups.cleaned == COPIES
    warned = outcome.log.count(ABANDONED_LOG)
    assert warned == COPIES, (
        f"cleanup_timeout cut {COPIES} cleanups short and logged {warned} warnings about it"
    )


def test_the_server_keeps_serving_everyone_else(result: MisbehavingResult) -> None:
    print(
        f"healthy stream: {result.healthy_events} events, {result.healthy_gaps} missing; "
        f"tasks {result.baseline.tasks} -> {result.after.tasks}"
    )
    assert result.healthy_gaps == 0
    assert result.fresh_request_status == 200
    assert result.after.tasks == result.baseline.tasks
    # Every error stayed inside its response: none escaped to the server, none left a
    # response unfinished.
    assert "Exception in ASGI application" not in result.log, result.log[-3000:]
    assert "ASGI callable returned without completing response" not in result.log
