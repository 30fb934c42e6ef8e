"""Turning what a FastAPI endpoint yields into event bytes, the way `fastapi.sse` users expect.

An event object (`sse_core.ServerSentEvent`, a typed `sse_core.pydantic.EventModel`, an event of
`fastapi.sse` or of the Starlette binding) is written as the event it describes. Anything else
is the data of an event: validated against the endpoint's declared item type, when there is
one, and serialized as compact JSON by pydantic, as FastAPI serializes a response model. So a
`str` item is sent as a JSON string, exactly as `fastapi.sse` sends it; yield
`ServerSentEvent(text)` to send text as it is.
"""

from __future__ import annotations

__all__ = ["ItemEncoder", "item_encoder"]

import functools
from typing import Any

from fastapi.sse import ServerSentEvent as FastAPIEvent
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from sse_core import EventEncoder
from sse_core import ServerSentEvent as CoreEvent

from ._fastapi_internals import response_validation_error


class ItemEncoder(EventEncoder):
    """An `EventEncoder` (LF line ends) whose plain items are pydantic-validated JSON data.

    `item_type` is the type every plain item must validate as; None sends any JSON-able item
    as it is.

    >>> from pydantic import BaseModel
    >>> class Tick(BaseModel):
    ...     n: int
    >>> ItemEncoder(Tick).encode({"n": "3"})
    b'data: {"n":3}\\n\\n'
    >>> ItemEncoder(Tick).encode(CoreEvent("as it is", event="note"))
    b'event: note\\ndata: as it is\\n\\n'
    """

    __slots__ = ("_to_json", "_validate", "adapter", "item_class", "item_type")

    def __init__(self, item_type: Any = None) -> None:
        super().__init__()
        self.item_type = item_type
        self.adapter: TypeAdapter[Any] | None = None
        if item_type is not None:
            self.adapter = TypeAdapter(item_type)
            # pydantic-core's own validator and serializer, called directly: the TypeAdapter
            # methods around them handle options a stream never passes, at a cost larger than
            # the work itself (docs/performance.md, "Typed FastAPI endpoints";
            # benchmarks/fastapi_streaming.py guards it).
            self._validate = self.adapter.validator.validate_python
            self._to_json = self.adapter.serializer.to_json
        # Items of the declared class (the common case) skip the event checks.
        self.item_class: type | None = item_type if isinstance(item_type, type) else None

    def encode(self, item: Any) -> bytes:
        if type(item) is not self.item_class:
            # The class, not the instance, is asked: a pydantic model answers a missing
            # attribute slowly, through its __getattr__.
            if isinstance(item, CoreEvent | bytes) or hasattr(type(item), "to_server_sent_event"):
                return super().encode(item)
            if isinstance(item, FastAPIEvent):
                return super().encode(self._from_fastapi(item))
        return self.encode_data(self.data_json(item))

    def data_json(self, item: Any) -> bytes:
        """`item` as the JSON an event's data carries, validated against the item type."""
        if self.adapter is None:
            # JSON has no NaN or Infinity: written as null, as pydantic's models and
            # fastapi.sse write them, so that a client's JSON.parse never fails.
            return to_json(item, inf_nan_mode="null")
        try:
            value = self._validate(item)
        except ValidationError as exc:
            # What FastAPI raises for a response that does not match its declared model.
            raise response_validation_error(exc.errors(include_url=False), item) from None
        return self._to_json(value)

    def _from_fastapi(self, item: FastAPIEvent) -> CoreEvent:
        # fastapi.sse's rules: `raw_data` is sent as it is, `data` as JSON (not validated
        # against the item type: an endpoint may mix types on purpose).
        if item.raw_data is not None:
            data: str | None = item.raw_data
        elif item.data is not None:
            data = to_json(item.data, inf_nan_mode="null").decode("utf-8")
        else:
            data = None
        return CoreEvent(data, event=item.event, id=item.id, retry=item.retry, comment=item.comment)


@functools.lru_cache(maxsize=512)
def _cached_encoder(item_type: Any) -> ItemEncoder:
    return ItemEncoder(item_type)


def item_encoder(item_type: Any) -> ItemEncoder:
    """The encoder for `item_type`, built once per type: building pydantic's validator and
    serializer costs far more than using them."""
    try:
        return _cached_encoder(item_type)
    except TypeError:  # an unhashable type annotation
        return ItemEncoder(item_type)
