"""FastAPI's undocumented parts are touched in `_fastapi_internals` only, and each still works.

The structural test reads the package's source: a new use of a FastAPI internal elsewhere fails
here (an import of another package's private module fails in tests/workspace). The others
check, against the installed FastAPI (CI runs the lowest declared and the newest), that each
item the module's docstring lists still does what the package relies on.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import AsyncIterator  # noqa: TC003 (FastAPI reads endpoint annotations)
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import fastapi
import fastapi.utils
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from packaging.requirements import Requirement
from pydantic import BaseModel

import sse_fastapi_binding
from sse_fastapi_binding import (
    EventSourceResponse,
    EventStreamRoute,
    _fastapi_internals,
    enable_event_streams,
)
from sse_fastapi_binding._fastapi_internals import (
    declare_event_stream,
    declare_included_copy,
    response_validation_error,
    route_of,
)
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sse_core import ParsedEvent

PACKAGE = Path(sse_fastapi_binding.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
INTERNALS = PACKAGE / "_fastapi_internals.py"

# What only _fastapi_internals may say: FastAPI's private names, the undocumented route
# attributes and helpers it lists, and the scope key FastAPI's route sets.
INTERNAL_USES = re.compile(
    r"fastapi\.\w+\._\w+|_effective_route_context|is_sse_stream|stream_item_(type|field)"
    r"|create_model_field|unique_id|ResponseValidationError\(|scope(\.get\(|\[)\"route\""
    r"|__signature__|__wrapped__"
)


class Tick(BaseModel):
    n: int


def test_fastapi_internals_are_used_in_one_module() -> None:
    offenders = [
        f"{module.name}:{number}: {line.strip()}"
        for module in MODULES
        if module != INTERNALS
        for number, line in enumerate(module.read_text().splitlines(), 1)
        if INTERNAL_USES.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def test_a_declared_stream_is_documented_with_its_item_type() -> None:
    route = APIRoute("/ticks", lambda: None)
    declare_event_stream(route, Tick)
    assert route.is_sse_stream
    assert route.stream_item_type is Tick
    assert route.stream_item_field is not None
    assert route.stream_item_field.name == "StreamItem_" + route.unique_id


def test_a_declared_stream_without_a_type_has_no_item_field() -> None:
    route = APIRoute("/events", lambda: None)
    declare_event_stream(route, None)
    assert route.is_sse_stream
    assert route.stream_item_field is None


def test_a_changed_field_helper_degrades_the_documentation_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def changed(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("create_model_field() got an unexpected keyword argument 'mode'")

    monkeypatch.setattr(fastapi.utils, "create_model_field", changed)
    app = FastAPI()
    enable_event_streams(app)
    with pytest.warns(RuntimeWarning, match=r"/ticks .*the stream works"):

        @app.get("/ticks", response_class=EventSourceResponse)
        async def ticks() -> AsyncIterator[Tick]:
            yield Tick(n=1)

    item = app.openapi()["paths"]["/ticks"]["get"]["responses"]["200"]["content"][
        "text/event-stream"
    ]["itemSchema"]
    assert item["properties"]["data"] == {"type": "string"}

    async def scenario() -> list[ParsedEvent]:
        async with EventStreamClient(app) as client, client.stream("/ticks") as stream:
            return await stream.collect()

    assert [event.data for event in anyio.run(scenario)] == ['{"n":1}']


def test_declaring_an_included_copy_outside_fastapis_build_does_nothing() -> None:
    route = APIRoute("/ticks", lambda: None)
    declare_included_copy(route)
    assert route.is_sse_stream is False


def test_included_streams_are_documented_as_streams() -> None:
    # FastAPI 0.160+ documents an included route through its per-inclusion copy; older
    # versions through a copy of the route made by its class. Both must say text/event-stream.
    app = FastAPI()
    enable_event_streams(app)
    router = APIRouter(route_class=EventStreamRoute)

    @router.get("/ticks", response_class=EventSourceResponse)
    async def ticks() -> AsyncIterator[Tick]:
        yield Tick(n=1)

    app.include_router(router, prefix="/a")
    app.include_router(router, prefix="/b")
    paths = app.openapi()["paths"]
    for path in ("/a/ticks", "/b/ticks"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert content["text/event-stream"]["itemSchema"]["properties"]["data"][
            "contentSchema"
        ] == {"$ref": "#/components/schemas/Tick"}


def test_the_matched_route_is_in_the_scope() -> None:
    route = APIRoute("/ticks", lambda: None)
    _, child_scope = route.matches({"type": "http", "path": "/ticks", "method": "GET"})
    assert route_of(child_scope) is route
    assert route_of({"type": "http"}) is None


def test_the_response_validation_error_carries_the_errors_and_the_body() -> None:
    error = response_validation_error([{"loc": ("n",), "msg": "bad"}], {"n": "x"})
    assert isinstance(error, ResponseValidationError)
    assert error.errors() == [{"loc": ("n",), "msg": "bad"}]
    assert error.body == {"n": "x"}


def test_a_response_validation_error_without_body_keeps_the_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Changed(ResponseValidationError):
        def __init__(self, errors: Sequence[Any]) -> None:
            super().__init__(errors)

    monkeypatch.setattr(_fastapi_internals, "ResponseValidationError", Changed)
    error = response_validation_error([{"loc": ("n",), "msg": "bad"}], {"n": "x"})
    assert isinstance(error, Changed)
    assert error.errors() == [{"loc": ("n",), "msg": "bad"}]


def test_the_installed_fastapi_is_within_the_declared_range() -> None:
    declared = [
        Requirement(line)
        for line in importlib.metadata.requires("sse-fastapi-binding") or []
        if Requirement(line).name == "fastapi"
    ]
    assert [str(requirement.specifier) for requirement in declared] == [">=0.135"]
    assert declared[0].specifier.contains(fastapi.__version__)


def test_the_structural_checks_see_what_they_look_for() -> None:
    assert len(INTERNAL_USES.findall(INTERNALS.read_text())) >= 8
