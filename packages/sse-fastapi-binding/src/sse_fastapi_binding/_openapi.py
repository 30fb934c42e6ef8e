"""What the OpenAPI document says about streams whose events carry text as well as JSON.

FastAPI documents an event stream's ``data`` as a JSON string of the item type. A stream
declared as ``AsyncIterator[Tick | ServerSentEvent]`` sends both: a `Tick` as its JSON, and an
event object's data as the text it is. Its route marks its operation (through
``openapi_extra``, which FastAPI copies into the document); `document_text_data` then rewrites
the marked operations so that ``data`` is either form (``anyOf``: a text may happen to be valid
JSON too), and may be absent, as an event object may carry no data. `enable_event_streams`
installs it on the app's ``openapi`` method, the documented way to change the document.
"""

from __future__ import annotations

__all__ = ["TEXT_DATA_MARKER", "document_text_data", "text_data_extra"]

import copy
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

TEXT_DATA_MARKER: Final = "x-sse-fastapi-binding-text-data"
"""The operation key that marks a stream whose events may carry text; removed from the
document once the operation is rewritten (a valid extension where it is not)."""

_TEXT_DATA: Final = {
    "type": "string",
    "description": "The data of an event object, sent as the text it is (not JSON).",
}


def text_data_extra(openapi_extra: dict[str, Any] | None) -> dict[str, Any]:
    """A route's `openapi_extra` with the text-data mark added (the caller's is not changed)."""
    return {**(openapi_extra or {}), TEXT_DATA_MARKER: True}


def document_text_data(app: FastAPI) -> None:
    """Makes `app`'s OpenAPI document describe the text data of marked streams (once per app)."""
    if getattr(app.openapi, TEXT_DATA_MARKER, False):
        return
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # FastAPI builds it once and keeps it in app.openapi_schema
        _rewrite_marked_operations(document)  # changes nothing the second time
        return document

    setattr(openapi, TEXT_DATA_MARKER, True)
    app.openapi = openapi  # type: ignore[method-assign]


def _rewrite_marked_operations(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.pop(TEXT_DATA_MARKER, False):
                for response in operation.get("responses", {}).values():
                    media = response.get("content", {}).get("text/event-stream")
                    if media is not None and "itemSchema" in media:
                        _allow_text_data(media["itemSchema"])


def _allow_text_data(item_schema: dict[str, Any]) -> None:
    properties = item_schema.setdefault("properties", {})
    data = properties.get("data")
    if data is not None and data.get("contentMediaType") == "application/json":
        properties["data"] = {"anyOf": [data, copy.deepcopy(_TEXT_DATA)]}
    required = [name for name in item_schema.get("required", ()) if name != "data"]
    if required:
        item_schema["required"] = required
    else:
        item_schema.pop("required", None)
