"""The client's parser fed hostile streams (no server): bounded memory, and what a line
without end costs.
"""

from __future__ import annotations

__all__ = [
    "ParserResult",
    "feed_parser",
    "hostile_streams",
    "parser_long_line_cost",
    "parser_peak_bound",
    "parser_under_hostile_streams",
]

import random
import time
import tracemalloc
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sse_core import DEFAULT_MAX_BUFFER_SIZE, BufferLimitExceeded, EventParser
from support.reliability.common import MIB

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence


def parser_peak_bound(max_buffer_size: int, chunk: int) -> int:
    """The most memory feeding a parser may take: its buffer twice (a line is extended by
    concatenation, so the old and the new copy live together for a moment), two chunks (the
    one fed and its decoding) and a little for the rest."""
    return 2 * max_buffer_size + 2 * chunk + 256 * 1024


@dataclass
class ParserResult:
    label: str
    offered: int
    """Bytes the hostile stream would have fed."""
    fed: int
    """Bytes fed before the parser refused (all of them if it never did)."""
    chunk: int
    max_buffer_size: int
    refused: bool
    """Whether the parser raised `BufferLimitExceeded`."""
    events: int
    """Events the parser returned (each dropped at once, as a client that handles them)."""
    seconds: float
    peak: int
    """tracemalloc's peak of memory allocated while feeding, in bytes."""


def _pieces(total: int, chunk: int, make: Callable[[int], bytes]) -> Iterator[bytes]:
    """`total` bytes of a stream, `chunk` at a time: make(offset) gives the next piece."""
    offset = 0
    while offset < total:
        piece = make(offset)[: min(chunk, total - offset)]
        offset += len(piece)
        yield piece


def hostile_streams(total: int, chunk: int) -> dict[str, Iterator[bytes]]:
    """Streams of `total` bytes that a hostile or broken server could send, in `chunk` pieces."""
    line = b"x" * chunk
    data_line = b"data: " + b"y" * max(1, chunk - 7) + b"\n"
    event_size = 256 * 1024
    event = b"data: " + b"z" * (event_size - 8) + b"\n\n"
    noise = random.Random(7).randbytes(1 << 20)
    return {
        "one line without end": _pieces(
            total, chunk, lambda offset: b"data: " + line if offset == 0 else line
        ),
        "data lines, never a blank line": _pieces(total, chunk, lambda offset: data_line),
        "256 KiB events": _pieces(
            total,
            chunk,
            lambda offset: event[offset % event_size :] + event[: offset % event_size],
        ),
        "random bytes": _pieces(
            total, chunk, lambda offset: noise[offset % len(noise) :][:chunk] or noise[:chunk]
        ),
    }


def feed_parser(
    label: str, pieces: Iterator[bytes], *, offered: int, chunk: int, max_buffer_size: int
) -> ParserResult:
    """Feed `pieces` to a fresh `EventParser` under tracemalloc until they end or the parser
    refuses; the figures."""
    parser = EventParser(max_buffer_size=max_buffer_size)
    fed = events = 0
    refused = False
    tracemalloc.start()
    started = time.perf_counter()
    try:
        for piece in pieces:
            fed += len(piece)
            events += len(parser.feed(piece))
    except BufferLimitExceeded as exc:
        refused = True
        events += len(exc.events)
    finally:
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return ParserResult(label, offered, fed, chunk, max_buffer_size, refused, events, seconds, peak)


def parser_under_hostile_streams(
    total: int = 100 * MIB, *, chunk: int = 64 * 1024, max_buffer_size: int = MIB
) -> list[ParserResult]:
    """Every stream of `hostile_streams` through a parser bounded to `max_buffer_size`."""
    return [
        feed_parser(label, pieces, offered=total, chunk=chunk, max_buffer_size=max_buffer_size)
        for label, pieces in hostile_streams(total, chunk).items()
    ]


def parser_long_line_cost(
    chunks: Sequence[int] = (65536, 16384, 4096), max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE
) -> list[ParserResult]:
    """One line without end fed until the parser refuses it (at its default limit, 16 MiB), in
    chunks of each size: what a hostile server costs a client's CPU."""
    total = max_buffer_size + max(chunks) + 16
    results = []
    for chunk in chunks:
        pieces = hostile_streams(total, chunk)["one line without end"]
        results.append(
            feed_parser(
                f"{chunk} B chunks",
                pieces,
                offered=total,
                chunk=chunk,
                max_buffer_size=max_buffer_size,
            )
        )
    return results
