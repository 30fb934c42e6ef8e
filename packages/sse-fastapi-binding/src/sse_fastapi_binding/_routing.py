"""Routes that stream: `EventStreamRoute`, and `enable_event_streams` to use it app-wide.

FastAPI sends the generator endpoints of its own ``fastapi.sse.EventSourceResponse`` through a
pipeline of its own, and any other generator endpoint through a plain streaming response.
Neither runs this package's delivery, so `EventStreamRoute` hands FastAPI an ordinary
``async def`` endpoint instead: the user's endpoint, adapted (`_adapter`), which FastAPI calls
like any other and whose response it sends unchanged. What the endpoint streams is read from
its annotations (`_endpoints`); what FastAPI is told beyond its documented API is in
`_fastapi_internals`.
"""

from __future__ import annotations

__all__ = ["EventStreamRoute", "enable_event_streams"]

from typing import TYPE_CHECKING, Any, Final

from fastapi.routing import APIRoute

from ._adapter import ORIGINAL_ENDPOINT, adapt
from ._endpoints import stream_endpoint
from ._fastapi_internals import declare_event_stream, declare_included_copy
from ._openapi import document_text_data, text_data_extra

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from fastapi import FastAPI, Request, Response


class EventStreamRoute(APIRoute):
    """An `APIRoute` that streams the events of endpoints whose `response_class` is
    `EventSourceResponse`: generator endpoints (async or not) and push endpoints (``async def``
    endpoints that take an `EventStream`). Every other endpoint is served as `APIRoute` would.

    Use it for a whole app with `enable_event_streams`, or for a router with
    ``APIRouter(route_class=EventStreamRoute)``.
    """

    is_event_stream_route: Final = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # A route copied from an included router arrives with the adapted endpoint.
        endpoint = getattr(endpoint, ORIGINAL_ENDPOINT, endpoint)
        streaming = stream_endpoint(endpoint, kwargs.get("response_class"))
        self.streams_events = streaming is not None
        if streaming is None:
            super().__init__(path, endpoint, **kwargs)
            return
        if streaming.sends_text and streaming.item_type is not None:
            kwargs["openapi_extra"] = text_data_extra(kwargs.get("openapi_extra"))
        status_code = kwargs.get("status_code") or 200
        super().__init__(path, adapt(streaming, status_code), **kwargs)
        declare_event_stream(self, streaming.item_type)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        if self.streams_events:
            declare_included_copy(self)
        return super().get_route_handler()


def enable_event_streams(app: FastAPI) -> None:
    """Streams the app's event-stream endpoints with this package; call it before adding routes.

    It makes `EventStreamRoute` the route class of `app`'s routes, and labels the app's OpenAPI
    document 3.2.0: an event stream is documented with the ``itemSchema`` keyword, which OpenAPI
    3.2 introduced, and a document that uses it must say 3.2 to be valid. It also wraps
    ``app.openapi``, so that a stream whose events may carry text as well as JSON data says so
    (see docs/fastapi.md, "OpenAPI").

    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> enable_event_streams(app)
    >>> app.openapi_version
    '3.2.0'
    """
    early = [
        route.path
        for route in app.router.routes
        if isinstance(route, APIRoute)
        and not isinstance(route, EventStreamRoute)
        and stream_endpoint(route.endpoint, route.response_class) is not None
    ]
    if early:
        raise RuntimeError(
            f"event-stream routes were added before enable_event_streams(app): {early}; "
            "call it right after creating the app"
        )
    app.router.route_class = EventStreamRoute
    app.openapi_version = "3.2.0"
    app.openapi_schema = None  # a document generated before would say 3.1.0
    document_text_data(app)
