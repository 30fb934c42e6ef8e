"""The OpenAPI document of apps with event-stream endpoints: what it says, and that it is valid.

Every document is checked with openapi-spec-validator, against the version it declares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator  # noqa: TC003 (FastAPI reads endpoint annotations)
from typing import TYPE_CHECKING, Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.sse import EventSourceResponse as FastAPIEventSourceResponse
from fastapi.sse import ServerSentEvent as FastAPIEvent
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel
from support.fastapi_app import create_app

from sse_core import ServerSentEvent
from sse_core.pydantic import EventModel
from sse_fastapi_binding import (
    EventSourceResponse,
    EventStream,
    EventStreamRoute,
    Stream,
    enable_event_streams,
)
from sse_fastapi_binding._openapi import TEXT_DATA_MARKER

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


def test_typed_event_models_document_the_data_type(document: dict[str, Any]) -> None:
    ticks = stream_media(document, "/ticks-with-ids")["itemSchema"]["properties"]["data"]
    assert ticks["contentSchema"] == {"$ref": "#/components/schemas/Tick"}


def test_a_union_with_event_objects_documents_json_or_text_data(document: dict[str, Any]) -> None:
    # /db yields dict[str, Any] | ServerSentEvent: a dict goes out as JSON, an event's data as
    # the text it is, and an event may have no data at all.
    item = stream_media(document, "/db")["itemSchema"]
    json_form, text_form = item["properties"]["data"]["anyOf"]
    assert json_form["contentMediaType"] == "application/json"
    assert json_form["contentSchema"]["type"] == "object"
    assert text_form["type"] == "string"
    assert "contentMediaType" not in text_form
    assert "required" not in item
    assert TEXT_DATA_MARKER not in document["paths"]["/db"]["get"]


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


def test_text_data_is_documented_for_every_kind_of_union_stream() -> None:
    app = FastAPI()
    enable_event_streams(app)
    router = APIRouter(route_class=EventStreamRoute)

    @app.get("/readings", response_class=EventSourceResponse, status_code=201)
    async def readings() -> AsyncIterator[Reading | ServerSentEvent]:
        yield ServerSentEvent("hello")

    @app.get("/native", response_class=EventSourceResponse)
    async def native() -> AsyncIterator[Alert | FastAPIEvent]:
        yield FastAPIEvent(raw_data="as it is")

    @app.get("/text-models", response_class=EventSourceResponse)
    async def text_models() -> AsyncIterator[EventModel[str]]:
        yield EventModel[str](data="text, not JSON")

    @app.get("/pushed", response_class=EventSourceResponse)
    async def pushed(stream: Annotated[EventStream[Reading | ServerSentEvent], Stream()]) -> None:
        await stream.send(ServerSentEvent("hello"))

    @router.get("/readings", response_class=EventSourceResponse)
    async def routed() -> AsyncIterator[Reading | ServerSentEvent]:
        yield ServerSentEvent("hello")

    app.include_router(router, prefix="/router")
    document = app.openapi()
    validate(document)
    for path, model, status in [
        ("/readings", "Reading", "201"),
        ("/native", "Alert", "200"),
        ("/pushed", "Reading", "200"),
        ("/router/readings", "Reading", "200"),
    ]:
        operation = document["paths"][path]["get"]
        item = operation["responses"][status]["content"]["text/event-stream"]["itemSchema"]
        json_form, text_form = item["properties"]["data"]["anyOf"]
        assert json_form["contentSchema"] == {"$ref": f"#/components/schemas/{model}"}, path
        assert text_form["type"] == "string", path
        assert "required" not in item, path
        assert TEXT_DATA_MARKER not in operation, path
    # EventModel[str] writes its data as text: plain str items would be JSON strings.
    str_data = stream_media(document, "/text-models")["itemSchema"]["properties"]["data"]
    assert str_data["anyOf"][0]["contentSchema"]["type"] == "string"
    assert str_data["anyOf"][1]["type"] == "string"
    assert app.openapi() is document  # built once; rewriting again changes nothing


def test_a_stream_without_text_events_keeps_json_only_data() -> None:
    app = FastAPI()
    enable_event_streams(app)

    @app.get("/typed", response_class=EventSourceResponse)
    async def typed() -> AsyncIterator[Reading | EventModel[Alert]]:
        yield EventModel[Alert](data=Alert(level=1))

    @app.get("/events", response_class=EventSourceResponse)
    async def events() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent("text")

    document = app.openapi()
    validate(document)
    typed_item = stream_media(document, "/typed")["itemSchema"]
    assert typed_item["required"] == ["data"]
    assert typed_item["properties"]["data"]["contentMediaType"] == "application/json"
    # Events only: the data is text of no declared type, which FastAPI already says.
    assert stream_media(document, "/events")["itemSchema"]["properties"]["data"] == {
        "type": "string"
    }


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


def test_the_routes_own_openapi_extra_is_kept_beside_the_text_data() -> None:
    app = FastAPI()
    enable_event_streams(app)
    enable_event_streams(app)  # twice: the document is still rewritten once, and right
    extra = {"x-rate-limit": 5}

    @app.get("/feed", response_class=EventSourceResponse, openapi_extra=extra)
    async def feed() -> AsyncIterator[Reading | ServerSentEvent]:
        yield ServerSentEvent("hello")

    operation = app.openapi()["paths"]["/feed"]["get"]
    assert operation["x-rate-limit"] == 5
    assert extra == {"x-rate-limit": 5}  # the caller's dict is not changed
    data = operation["responses"]["200"]["content"]["text/event-stream"]["itemSchema"]
    assert len(data["properties"]["data"]["anyOf"]) == 2
