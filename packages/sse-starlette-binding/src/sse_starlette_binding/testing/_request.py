"""The request side both clients share: the header list of an event-stream request."""

from __future__ import annotations

__all__ = ["TARGET_SAFE", "request_headers"]

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BODYLESS_METHODS: Final = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
TARGET_SAFE: Final = "/:@!$&'()*+,;=-._~%?"
"""Characters a request target keeps as they are; anything else (non-ASCII text) is
%-encoded."""


def request_headers(
    host: str,
    method: str,
    headers: Mapping[str, str] | None,
    last_event_id: str | None,
    body: bytes,
) -> list[tuple[bytes, bytes]]:
    if not _TOKEN.fullmatch(method):
        raise ValueError(f"not an HTTP method: {method!r}")
    fields: dict[bytes, bytes] = {b"host": host.encode("ascii"), b"accept": b"text/event-stream"}
    if body or method not in _BODYLESS_METHODS:
        fields[b"content-length"] = str(len(body)).encode("ascii")
    for name, value in (headers or {}).items():
        key = name.lower()
        if not _TOKEN.fullmatch(key):
            raise ValueError(f"not a header name: {name!r}")
        if key == "last-event-id" and last_event_id is not None:
            raise ValueError("give the Last-Event-ID either as last_event_id or as a header")
        fields[key.encode("ascii")] = _header_value(name, value)
    if last_event_id is not None:
        # Browsers send the id as UTF-8, whatever HTTP says about header bytes.
        fields[b"last-event-id"] = _header_value("Last-Event-ID", last_event_id)
    return list(fields.items())


def _header_value(name: str, value: str) -> bytes:
    if any(char in value for char in "\r\n\0"):
        raise ValueError(f"the value of the {name} header contains CR, LF or NUL: {value!r}")
    return value.encode("utf-8")
