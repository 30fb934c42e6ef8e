"""Stepping an awaitable by hand, to learn whether it completes without suspending.

``awaitable.__await__().send(None)`` runs it up to its first suspension. If it raises
`StopIteration`, the result was ready and nothing else ran meanwhile; if it yields instead, the
awaitable has suspended and may already be registered for a wake-up, so the suspension must
be handed to the event loop at once, before anything else runs in this task: `resume` does
that and relays the rest, exactly as ``await`` would have.
"""

from __future__ import annotations

__all__ = ["resume"]

import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Generator


@types.coroutine
def resume(step: Generator[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    """Awaits the rest of a step that was started by hand and has suspended.

    The first suspension (`yielded`) was already produced by ``step.send(None)``; this hands it
    to the event loop and relays everything after it in both directions (what the loop sends
    back, and what it throws in, cancellation included), exactly as ``await`` would have.
    """
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            step.close()
            raise
        except BaseException as exc:  # relayed to the awaitable, as await would
            try:
                yielded = step.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                yielded = step.send(sent)
            except StopIteration as done:
                return done.value
