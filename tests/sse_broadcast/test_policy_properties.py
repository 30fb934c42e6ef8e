"""The slow-subscriber policies against a model: any sequence of publish bursts and reads gives
exactly what the model says, event by event, gap event by gap event."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.broadcast import gap_data, is_gap

from sse_broadcast import Broadcast, MemoryBackend

Step = tuple[Literal["publish", "read"], int]


@dataclass
class Model:
    """What a subscription with `buffer_size` holds under its policy, kept by hand."""

    buffer_size: int
    policy: str
    live: deque[str] = field(default_factory=deque)
    dropped: int = 0
    last_dropped: str | None = None
    ending: bool = False

    def deliver(self, event_id: str) -> None:
        if self.ending:
            return
        if len(self.live) >= self.buffer_size:
            if self.policy == "end":
                self.ending = True
                return
            self.last_dropped = self.live.popleft()
            self.dropped += 1
        self.live.append(event_id)

    def ready(self) -> int:
        """How many items a read can take without waiting (gap events count as items)."""
        return len(self.live) + (1 if self.dropped and self.live else 0)

    def take(self) -> tuple[str, str | None, int]:
        """("gap", its id, dropped) or ("event", its id, 0), as the subscription hands out."""
        if self.dropped:
            item = ("gap", self.last_dropped, self.dropped)
            self.dropped, self.last_dropped = 0, None
            return item
        return ("event", self.live.popleft(), 0)


steps = st.lists(
    st.tuples(st.sampled_from(["publish", "read"]), st.integers(1, 12)), min_size=1, max_size=25
)


@pytest.mark.parametrize("policy", ["end", "drop-oldest"])
@settings(max_examples=200)
@given(buffer_size=st.integers(1, 6), script=steps)
def test_policies_match_the_model(policy: str, buffer_size: int, script: list[Step]) -> None:
    async def scenario() -> None:
        model = Model(buffer_size, policy)
        broadcast = Broadcast(
            MemoryBackend(history=1000),
            buffer_size=buffer_size,
            overflow="end" if policy == "end" else "drop-oldest",
        )
        async with broadcast, broadcast.subscribe("slow") as subscription:
            for action, count in script:
                if action == "publish":
                    for n in range(count):
                        model.deliver(await broadcast.publish("slow", n))
                    continue
                # Read only what is ready: a read beyond it would wait for ever.
                for _ in range(min(count, model.ready())):
                    kind, event_id, dropped = model.take()
                    event = await anext(subscription)
                    assert event.id == event_id
                    if kind == "gap":
                        assert is_gap(event)
                        assert gap_data(event) == {
                            "reason": "overflow",
                            "last_event_id": None,
                            "dropped": dropped,
                        }
                    else:
                        assert not is_gap(event)
            if model.ending and not model.ready():
                # Policy "end" ended it: the iteration is over, cleanly.
                with pytest.raises(StopAsyncIteration):
                    await anext(subscription)

    anyio.run(scenario)
