"""`Batch`: encoded events gathered to leave together in one body message (write coalescing)."""

from __future__ import annotations

__all__ = ["PENDING_EVENTS", "PENDING_LIMIT", "Batch"]

from typing import Final

PENDING_LIMIT: Final = 64 * 1024
"""Bytes gathered into one write at most. Big enough that a burst leaves in few writes, small
enough that a stream's memory stays small (uvicorn's own write-buffer mark is 64 KiB)."""

PENDING_EVENTS: Final = 1024
"""Events gathered into one write at most. A producer that never waits lets other tasks run
after each write, and a write's events were taken and encoded with nobody else running: the
byte limit alone would let thousands of tiny events through and hold the event loop for
milliseconds, making a paced stream beside it late (benchmarks/latency.py, fairness; the
figures are in docs/performance.md, "Found and fixed while measuring")."""


class Batch(list[bytes]):
    """Encoded events waiting to be written together, up to `PENDING_LIMIT` bytes or
    `PENDING_EVENTS` events: the list of them, and their `size` in bytes. One per stream,
    emptied in place by `take`, never replaced; true while it holds any.

    It is the list itself, not an object holding one: every open stream has a batch, and one
    object fewer each is memory saved per stream (benchmarks/streaming.py, idle connections).

    >>> batch = Batch()
    >>> batch.add(b"data: 1\\n\\n"), batch.add(b"data: 2\\n\\n")
    (True, True)
    >>> batch.take(), bool(batch)
    (b'data: 1\\n\\ndata: 2\\n\\n', False)
    """

    __slots__ = ("size",)

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def add(self, chunk: bytes) -> bool:
        """Gather `chunk`; True while there is room for more."""
        self.append(chunk)
        self.size += len(chunk)
        return self.size < PENDING_LIMIT and len(self) < PENDING_EVENTS

    def take(self) -> bytes:
        """Everything gathered, as one body (empty if nothing was); the batch is empty after."""
        body = self[0] if len(self) == 1 else b"".join(self)
        self.clear()
        self.size = 0
        return body
