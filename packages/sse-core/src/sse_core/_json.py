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

# A tuple, not `bytes | bytearray | memoryview`, which isinstance() would build on every call.
_ENCODED = (bytes, bytearray, memoryview)

_stdlib_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _make_compact_json() -> Callable[[Any], str]:
    # `JSONEncoder.encode` builds a new C encoder on every call, a large share of serializing
    # a small object (benchmarks/encoding.py, object-to-JSON); build it once instead.
    # `c_make_encoder` is CPython's accelerator behind the public `json` module: where it is
    # missing, use the plain path.
    # With no markers dict there is no circular-reference check, so a cycle surfaces as the
    # RecursionError that `to_json_text` turns into a clear error.
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # pragma: no cover - not CPython
        return _stdlib_encoder.encode
    encode_chunks = make_encoder(
        None,  # markers: no cycle detection
        _stdlib_encoder.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )

    def compact_json(value: Any) -> str:
        return "".join(encode_chunks(value, 0))

    return compact_json


_compact_json = _make_compact_json()


# Checking these first spares the common payloads the (slow, ABC-based) pydantic isinstance.
_PLAIN_JSON_TYPES = frozenset((dict, list, tuple, str, int, float, bool, type(None)))


def _pydantic_json(value: Any) -> str | None:
    # pydantic is never imported here: if the caller's value is a pydantic model, pydantic is
    # already in sys.modules, and if it is not there, the value cannot be a model.
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        text: str = value.model_dump_json()
        return text
    return None


def to_json_text(value: Any, *, json_dumps: JSONDumps | None = None) -> str:
    """Serialize `value` as the JSON text sse_core writes as an event's data.

    This is the text `encode` writes for JSON data, and `ServerSentEvent.from_json` holds: a
    pydantic model is serialized by pydantic; anything else by `json_dumps` when given
    (orjson's and msgspec's `dumps` fit; UTF-8 bytes are decoded), or else by the standard
    library, compact, with ``ensure_ascii=False`` and ``allow_nan=False``. Use it with
    `encode_event`, whose data must be text.

    Raises `InvalidEventError` (field ``"data"``) for values JSON cannot represent (NaN,
    infinities, circular values) and `TypeError` for values of a type the serializer does not
    know.

    >>> from sse_core import to_json_text
    >>> to_json_text({"text": "café", "n": [1, 2.5, None]})
    '{"text":"café","n":[1,2.5,null]}'
    """
    if type(value) not in _PLAIN_JSON_TYPES:
        text = _pydantic_json(value)
        if text is not None:
            return text
    try:
        serialized = _compact_json(value) if json_dumps is None else json_dumps(value)
    except ValueError as exc:
        raise InvalidEventError("data", f"cannot be serialized as JSON: {exc}") from exc
    except RecursionError:
        raise InvalidEventError(
            "data", "cannot be serialized as JSON: it is circular or nested too deeply"
        ) from None
    if isinstance(serialized, str):
        return serialized
    if isinstance(serialized, _ENCODED):
        try:
            return str(serialized, "utf-8")  # any bytes-like object, without a copy
        except UnicodeDecodeError as exc:
            raise InvalidEventError("data", f"json_dumps returned invalid UTF-8: {exc}") from exc
    raise TypeError(f"json_dumps must return str or bytes, not {type(serialized).__name__}")
