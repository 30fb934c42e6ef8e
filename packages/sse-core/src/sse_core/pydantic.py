"""Typed event models for pydantic (``pip install "sse-core[pydantic]"``).

`EventModel[T]` is an event whose `data` is validated as `T` by pydantic, serialized by pydantic
as compact JSON, and described by a JSON Schema (for OpenAPI). Importing `sse_core` never imports
this module or pydantic; importing this module requires pydantic.

>>> from pydantic import BaseModel
>>> from sse_core import encode
>>> from sse_core.pydantic import EventModel
>>> class Tick(BaseModel):
...     n: int
>>> encode(EventModel[Tick](data={"n": "3"}, event="tick", id="3"))
b'id: 3\\nevent: tick\\ndata: {"n":3}\\n\\n'
"""

from __future__ import annotations

__all__ = ["EventModel"]

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._errors import InvalidEventError
from ._event import ServerSentEvent
from ._wire import encode_event

DataT = TypeVar("DataT")


class EventModel(BaseModel, Generic[DataT]):
    """An event with typed `data`, validated by pydantic and checked against the wire format.

    `data` is validated as `DataT` and written as compact JSON by pydantic's serializer (a
    `str` data type is written as-is, without quotes). The other fields follow the same rules as
    `ServerSentEvent`: a violation is a pydantic `ValidationError` whose message names the field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: DataT
    event: str | None = None
    id: str | None = None
    retry: int | None = Field(default=None, ge=0, strict=True)
    comment: str | None = None

    @model_validator(mode="after")
    def _check_wire_format(self) -> EventModel[DataT]:
        try:
            encode_event(None, self.event, self.id, self.retry, self.comment)
        except InvalidEventError as exc:
            # A ValueError raised here becomes a pydantic ValidationError with this message.
            raise ValueError(str(exc)) from None
        return self

    def data_text(self) -> str:
        """The data as it goes on the wire: text stays text, anything else is JSON."""
        if isinstance(self.data, str):
            return self.data
        # Serializing the whole model and taking `data` would run every field's serializer;
        # serializing `data` alone through the model's own field keeps `DataT`'s rules.
        dumped: bytes = self.__pydantic_serializer__.to_json(
            self, include={"data"}, exclude_none=False
        )
        # The model dumps as {"data":<json>}: strip the 8-byte prefix and the closing brace.
        return dumped[len(b'{"data":') : -1].decode("utf-8")

    def to_server_sent_event(self) -> ServerSentEvent:
        """The `ServerSentEvent` this model stands for (what `sse_core.encode` writes)."""
        return ServerSentEvent(
            self.data_text(), event=self.event, id=self.id, retry=self.retry, comment=self.comment
        )

    @classmethod
    def data_json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of `data` alone: the payload a client's handler receives."""
        schema: dict[str, Any] = cls.model_json_schema()
        data_schema: dict[str, Any] = schema["properties"]["data"]
        if "$defs" in schema:
            data_schema = {**data_schema, "$defs": schema["$defs"]}
        return data_schema
