"""JSON serialization of event data: compact, strict, and pluggable."""

from __future__ import annotations

__all__ = ["JSONDumps", "to_json_text"]

import json
import sys
from collections.abc import Callable
from typing import Any

from ._errors import InvalidEventError

JSONDumps = Callable[[Any], "str | bytes"]
"""A JSON serializer: takes a value, returns JSON text as `str` or UTF-8 `bytes` (orjson)."""

# Building the encoder once is measurably cheaper than `json.dumps(..., separators=...)`, which
# constructs a new `JSONEncoder` on every call that passes a non-default option.
_compact_json = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":")
).encode


def _pydantic_json(value: Any) -> str | None:
    # pydantic is never imported here: if the caller's value is a pydantic model, pydantic is
    # already in sys.modules, and if it is not there, the value cannot be a model.
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        text: str = value.model_dump_json()
        return text
    return None


def to_json_text(value: Any, json_dumps: JSONDumps | None = None) -> str:
    """Serialize `value` as JSON text for a data field.

    Raises `InvalidEventError` (field ``"data"``) for values JSON cannot represent (NaN,
    infinities) and `TypeError` for values of a type the serializer does not know.
    """
    text = _pydantic_json(value)
    if text is not None:
        return text
    try:
        serialized = _compact_json(value) if json_dumps is None else json_dumps(value)
    except ValueError as exc:
        raise InvalidEventError("data", f"cannot be serialized as JSON: {exc}") from exc
    if isinstance(serialized, str):
        return serialized
    if isinstance(serialized, bytes | bytearray | memoryview):
        try:
            return bytes(serialized).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEventError("data", f"json_dumps returned invalid UTF-8: {exc}") from exc
    raise TypeError(
        f"json_dumps must return str or bytes, not {type(serialized).__name__}"
    )
