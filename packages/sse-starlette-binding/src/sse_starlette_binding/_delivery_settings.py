"""What one delivery needs to know of its response, fixed when the response is sent.

`EventSourceResponse` holds sse-starlette's mutable attributes (code written for sse-starlette
may set them after construction); when the response is called, it freezes what they are into a
`DeliverySettings` and hands that to `Delivery`, which reads nothing else of the response.
"""

from __future__ import annotations

__all__ = ["DeliverySettings", "ItemEncoder", "ProducerErrorHandler", "ResponseMessages"]

from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

if TYPE_CHECKING:
    import anyio
    from starlette.types import Message

ProducerErrorHandler: TypeAlias = Callable[[Exception], Any]


class ItemEncoder(Protocol):
    """What writes one item's bytes, with the stream's line separator."""

    def encode(self, item: Any) -> bytes: ...


class ResponseMessages(Protocol):
    """What a delivery asks its response for when it needs it (the response itself)."""

    def start_message(self, prefix: str) -> Message:
        """The ``http.response.start`` message (with a message-type prefix), built when the
        headers go out, so that a response may adjust its headers until then."""
        ...

    def ping_bytes(self) -> bytes:
        """One keep-alive ping's bytes."""
        ...


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """One response's content and configuration, as `Delivery` uses them."""

    content: AsyncIterable[Any]
    """The producer: an async iterable (sync iterables arrive wrapped in worker threads)."""
    # Objects rather than their bound methods: each bound method would be one more object
    # per open stream (benchmarks/streaming.py, idle connections).
    encoder: ItemEncoder
    messages: ResponseMessages
    preamble: bytes
    """Written right after the headers (the stream's ``retry``), or empty."""
    ping_interval: float
    """Seconds of silence before a ping; 0 for none."""
    send_timeout: float | None
    cleanup_timeout: float | None
    shutdown_event: anyio.Event | None
    shutdown_grace_period: float
    hold_headers: bool
    data_sender: Callable[[], Awaitable[None]] | None
    on_client_close: Callable[[Message], Awaitable[None]] | None
    on_producer_error: ProducerErrorHandler | None
