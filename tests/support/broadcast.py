"""What the sse_broadcast tests share, whatever the backend: reading subscriptions with a
deadline, reading gap events, and the seam scenario the property tests draw.

Imports only sse_broadcast, sse_core, anyio and hypothesis, so the package's isolated CI run
(no Starlette, no redis-py) can use it.
"""

from __future__ import annotations

__all__ = [
    "SeamCase",
    "collect",
    "gap_data",
    "is_gap",
    "run_seam_case",
    "seam_cases",
    "take",
]

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from hypothesis import strategies as st

from sse_broadcast import Broadcast, format_event_id, parse_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sse_core import ServerSentEvent


def is_gap(event: ServerSentEvent, gap_event_type: str = "gap") -> bool:
    return event.event == gap_event_type


def gap_data(event: ServerSentEvent) -> dict[str, Any]:
    """A gap event's data, checked to be the documented JSON object."""
    assert event.data is not None
    data = json.loads(event.data)
    assert isinstance(data, dict)
    assert data["reason"] in {"unknown", "expired", "overflow", "lost", "reset"}, data
    return data


async def collect(events: AsyncIterator[ServerSentEvent], timeout: float = 5.0) -> list[Any]:
    """Every event until the iteration ends; fails (TimeoutError) if it does not end within
    `timeout` seconds."""
    received: list[ServerSentEvent] = []
    with anyio.fail_after(timeout):
        async for event in events:
            received.append(event)
    return received


async def take(
    events: AsyncIterator[ServerSentEvent], count: int, timeout: float = 5.0
) -> list[ServerSentEvent]:
    """The next `count` events; fails (TimeoutError) if they do not come within `timeout`."""
    received: list[ServerSentEvent] = []
    with anyio.fail_after(timeout):
        while len(received) < count:
            received.append(await anext(events))
    return received


# The seam scenario.

CHANNEL = "seam"
OTHER_CHANNEL = "seam-other"


@dataclass(frozen=True)
class SeamCase:
    """Publish `before` events, then subscribe at `resume` while a publisher publishes
    `during` more, yielding `pauses[i]` times before its i-th publish. The last event is
    final, so the subscription ends by itself."""

    before: int
    during: int
    resume: tuple[str, Any]
    """("none", None) live only; ("start", None) from_start; ("id", i) the i-th event's id;
    ("other-channel", i), ("other-epoch", i), ("future", None), ("garbage", text)."""
    pauses: tuple[int, ...]
    subscribe_pause: int


@st.composite
def seam_cases(draw: st.DrawFn, max_events: int = 12) -> SeamCase:
    before = draw(st.integers(0, max_events))
    during = draw(st.integers(0 if before else 1, max_events))
    total = before + during
    kind = draw(
        st.sampled_from(
            ["none", "start", "id", "id", "id", "other-channel", "other-epoch", "garbage"]
            + (["future"] if before else [])
        )
    )
    argument: Any = None
    if kind in {"id", "other-channel", "other-epoch"}:
        argument = draw(st.integers(0, total - 1))
    elif kind == "garbage":
        argument = draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
    pauses = tuple(draw(st.lists(st.integers(0, 3), min_size=during, max_size=during)))
    return SeamCase(before, during, (kind, argument), pauses, draw(st.integers(0, 3)))


async def run_seam_case(
    broadcast: Broadcast, case: SeamCase, history: int, *, atomic_start: bool = True
) -> None:
    """Run `case` on a running `broadcast` whose backend keeps `history` events per channel,
    and check what the subscriber received; the channels must be new to the backend.

    `atomic_start`: the backend reads the history as it was at the head (the memory backend
    does); a broker's may be trimmed by later publishes before it is read, so a gap may also
    come when the events published by the end no longer fit in the history."""
    ids: list[str] = []
    other_ids: list[str] = []

    async def publish(index: int) -> None:
        final = index == case.before + case.during - 1
        ids.append(await broadcast.publish(CHANNEL, f"event {index}", final=final))

    for index in range(case.before):
        await publish(index)
    kind, argument = case.resume
    resume_index: int | None = None
    last_event_id: str | None = None
    if kind in {"other-channel", "other-epoch"}:
        for index in range(argument + 1):
            other_ids.append(await broadcast.publish(OTHER_CHANNEL, f"other {index}"))
        last_event_id = other_ids[argument]
        if kind == "other-epoch":
            # The same position in a history this channel never had.
            size = broadcast.backend.position_size
            parsed = parse_event_id(last_event_id, size)
            assert parsed is not None
            last_event_id = format_event_id("f" * 12, parsed[1])
    elif kind == "future":
        parsed = parse_event_id(ids[-1], broadcast.backend.position_size)
        assert parsed is not None
        last_event_id = format_event_id(parsed[0], tuple(n + 10**6 for n in parsed[1]))
    elif kind == "garbage":
        last_event_id = argument
    elif kind == "id" and argument < case.before:
        resume_index, last_event_id = argument, ids[argument]

    received: list[ServerSentEvent] = []

    async def subscribe() -> None:
        nonlocal last_event_id
        for _ in range(case.subscribe_pause):
            await anyio.lowlevel.checkpoint()
        if kind == "id" and argument >= case.before:
            # An id published during the subscription: resume after it (it exists by now).
            while len(ids) <= argument:
                await anyio.lowlevel.checkpoint()
            nonlocal resume_index
            resume_index, last_event_id = argument, ids[argument]
        subscription = broadcast.subscribe(
            CHANNEL, last_event_id=last_event_id, from_start=kind == "start"
        )
        received.extend(await collect(subscription))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(subscribe)
            for index in range(case.before, case.before + case.during):
                for _ in range(case.pauses[index - case.before]):
                    await anyio.lowlevel.checkpoint()
                await publish(index)
    check_seam(received, ids, kind, resume_index, history=history, atomic_start=atomic_start)


def check_seam(
    received: list[ServerSentEvent],
    ids: list[str],
    kind: str,
    resume_index: int | None,
    *,
    history: int,
    atomic_start: bool,
) -> None:
    """The subscriber got a suffix of the channel's events, in order, once each, after a gap
    event exactly when its id was not a position the history held."""
    got = [event.id for event in received]
    gaps = [event for event in received if is_gap(event)]
    assert len(gaps) <= 1, got
    if gaps:
        assert received[0] is gaps[0], f"the gap event must come first: {got}"
        gap = gaps[0]
        data = gap_data(gap)
        rest = got[1:]
        if gap.id is None:
            # No history when the subscriber came, so no position to give: nothing skipped.
            assert kind in {"id", "other-channel", "other-epoch", "garbage", "future"}
            assert rest == ids, got
        else:
            head = ids.index(gap.id)
            assert rest == ids[head + 1 :], got  # then everything after the head, once
            # The last event the history may have had to hold when it was read.
            newest = head if atomic_start else len(ids) - 1
            if kind == "start":
                assert data["reason"] == "expired"
                assert newest + 1 > history, "a gap although the history held the first event"
            elif kind == "id":
                assert resume_index is not None
                assert data["reason"] == "expired"
                assert newest - resume_index > history, "a gap although history held the events"
            else:
                assert data["reason"] == "unknown"
        return
    assert kind not in {"other-channel", "other-epoch", "garbage", "future"}, (
        f"no gap for a {kind} id: {got}"
    )
    if kind == "id":
        assert resume_index is not None
        assert got == ids[resume_index + 1 :]
    elif kind == "start":
        assert got == ids
    else:
        assert got == ids[len(ids) - len(got) :]  # live only: a suffix
