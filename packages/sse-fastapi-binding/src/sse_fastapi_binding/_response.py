"""`EventSourceResponse` for FastAPI: the Starlette binding's response, with FastAPI's defaults."""

from __future__ import annotations

__all__ = ["EventSourceResponse"]

import inspect
from typing import TYPE_CHECKING, Any

from sse_starlette_binding import EventSourceResponse as StarletteEventSourceResponse

from ._fastapi_internals import route_of
from ._items import ItemEncoder, item_encoder

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from sse_starlette_binding import Content


class EventSourceResponse(StarletteEventSourceResponse):
    """An event-stream response for FastAPI; also the `response_class` that marks a stream route.

    As a `response_class` (with `EventStreamRoute`), an endpoint that yields, or a push endpoint
    that takes an `EventStream`, streams its events through this response. Built by hand, it is
    the Starlette binding's response (the same parameters, see its documentation) with the
    defaults of `fastapi.sse`: LF line ends, and items that are event objects or JSON data,
    validated against `item_type` when one is given. Headers are held back until the first
    event, so an `HTTPException` raised before it still becomes its error status.

    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> @app.get("/numbers")
    ... async def numbers() -> EventSourceResponse:
    ...     async def count():
    ...         for n in range(3):
    ...             yield {"n": n}
    ...     return EventSourceResponse(count(), ping=0)
    """

    DEFAULT_SEPARATOR = "\n"

    def __init__(  # the Starlette binding's parameters, passed on as they are
        self,
        content: Content,
        status_code: int = 200,
        *args: Any,
        item_type: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("json_dumps") is not None:
            raise TypeError("json_dumps is not used by FastAPI streams: pydantic serializes items")
        kwargs.setdefault("hold_headers", True)
        super().__init__(content, status_code, *args, **kwargs)
        if self.sep != "\n":
            raise ValueError("a FastAPI event stream is written with LF line ends only")
        self.encoder: ItemEncoder = item_encoder(item_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope)
        endpoint = getattr(route, "endpoint", None)
        if not getattr(route, "is_event_stream_route", False) and (
            inspect.isasyncgenfunction(endpoint) or inspect.isgeneratorfunction(endpoint)
        ):
            # FastAPI's own route calls a generator endpoint with this class as
            # `response_class` in a way that loses item validation, held headers and speed.
            raise TypeError(
                f"the generator endpoint {endpoint.__qualname__} streams with "
                "sse_fastapi_binding's EventSourceResponse but its route is FastAPI's APIRoute: "
                "call enable_event_streams(app) before adding routes, or create the router "
                "with APIRouter(route_class=EventStreamRoute)"
            )
        await super().__call__(scope, receive, send)
