"""The OpenAPI document of apps with event-stream endpoints: what it says, and that it is valid.

Every document is checked with openapi-spec-validator, against the version it declares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator  # noqa: TC003 (FastAPI reads endpoint annotations)
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.sse import EventSourceResponse as FastAPIEventSourceResponse
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel
from support.fastapi_app import create_app

from sse_core.pydantic import EventModel  # noqa: TC001 (FastAPI reads endpoint annotations)
from sse_fastapi_binding import EventSourceResponse, enable_event_streams

if TYPE_CHECKING:
    from pathlib import Path


class Reading(BaseModel):
    sensor: str
    value: float


class Alert(BaseModel):
    level: int


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    database: Path = tmp_path_factory.mktemp("openapi") / "app.sqlite"
    return create_app(str(database)).openapi()


def stream_media(document: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    response: dict[str, Any] = document["paths"][path][method]["responses"]["200"]
    media: dict[str, Any] = response["content"]["text/event-stream"]
    return media


def test_the_test_apps_document_is_valid_openapi_3_2(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.2.0"
    validate(document)


def test_a_typed_stream_documents_its_items_data_schema(document: dict[str, Any]) -> None:
    item = stream_media(document, "/ticks")["itemSchema"]
    assert item["required"] == ["data"]
    assert item["properties"]["data"] == {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {"$ref": "#/components/schemas/Tick"},
    }
    assert item["properties"]["retry"] == {"type": "integer", "minimum": 0}
    assert document["components"]["schemas"]["Tick"]["properties"]["n"]["type"] == "integer"


def test_typed_event_models_and_unions_with_events_document_the_data_type(
    document: dict[str, Any],
) -> None:
    ticks = stream_media(document, "/ticks-with-ids")["itemSchema"]["properties"]["data"]
    assert ticks["contentSchema"] == {"$ref": "#/components/schemas/Tick"}
    rows = stream_media(document, "/db")["itemSchema"]["properties"]["data"]
    assert rows["contentSchema"]["type"] == "object"  # dict[str, Any]; the events are left out


def test_untyped_streams_and_push_endpoints_are_documented_too(document: dict[str, Any]) -> None:
    untyped = stream_media(document, "/untyped")["itemSchema"]
    assert untyped["properties"]["data"] == {"type": "string"}
    assert "required" not in untyped
    notes = stream_media(document, "/notes")["itemSchema"]["properties"]["data"]
    assert notes["contentSchema"] == {"$ref": "#/components/schemas/Note"}


def test_post_streams_document_their_request_body(document: dict[str, Any]) -> None:
    operation = document["paths"]["/chat"]["post"]
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/Prompt"}
    data = stream_media(document, "/chat", "post")["itemSchema"]["properties"]["data"]
    assert data["contentSchema"] == {"$ref": "#/components/schemas/Token"}
    assert "422" in operation["responses"]


def test_streams_of_an_included_router_are_documented(document: dict[str, Any]) -> None:
    data = stream_media(document, "/router/ticks")["itemSchema"]["properties"]["data"]
    assert data["contentSchema"] == {"$ref": "#/components/schemas/Tick"}


def test_ordinary_endpoints_keep_their_json_documentation(document: dict[str, Any]) -> None:
    health = document["paths"]["/health"]["get"]["responses"]["200"]["content"]
    assert list(health) == ["application/json"]


def test_a_union_item_type_is_documented_as_a_union() -> None:
    app = FastAPI()
    enable_event_streams(app)

    @app.get("/feed", response_class=EventSourceResponse)
    async def feed() -> AsyncIterator[Reading | Alert | EventModel[Alert]]:
        yield Alert(level=1)

    document = app.openapi()
    validate(document)
    data = stream_media(document, "/feed")["itemSchema"]["properties"]["data"]
    assert data["contentSchema"]["anyOf"] == [
        {"$ref": "#/components/schemas/Reading"},
        {"$ref": "#/components/schemas/Alert"},
    ]


def test_fastapis_own_sse_document_is_invalid_which_is_why_we_label_ours_3_2() -> None:
    # The fact our choice rests on: FastAPI writes the 3.2 keyword `itemSchema` into a document
    # labelled 3.1.0, which a validator rejects. Should FastAPI change this, this test says so.
    app = FastAPI()

    @app.get("/native", response_class=FastAPIEventSourceResponse)
    async def native() -> AsyncIterator[Reading]:
        yield Reading(sensor="t", value=1.0)

    document = app.openapi()
    assert document["openapi"] == "3.1.0"
    assert "itemSchema" in stream_media(document, "/native")
    with pytest.raises(OpenAPIValidationError, match="itemSchema"):
        validate(document)
    # The same document, labelled 3.2.0 (what enable_event_streams does), is valid.
    validate({**document, "openapi": "3.2.0"})
