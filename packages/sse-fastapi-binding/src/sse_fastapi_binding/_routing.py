"""Routes that stream: `EventStreamRoute`, and `enable_event_streams` to use it app-wide.

FastAPI sends the generator endpoints of its own ``fastapi.sse.EventSourceResponse`` through a
pipeline of its own, and any other generator endpoint through a plain streaming response.
Neither runs this package's delivery, so `EventStreamRoute` hands FastAPI an ordinary
``async def`` endpoint instead: the user's endpoint, adapted. FastAPI solves its parameters and
dependencies as usual and calls it; the adapted endpoint calls the user's and returns an
`EventSourceResponse` with the stream's settings, which FastAPI sends unchanged. Dependencies
with ``yield`` close after the response, that is after the stream, on every way it can end.
"""

from __future__ import annotations

__all__ = ["EventStreamRoute", "enable_event_streams"]

import collections.abc
import inspect
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Union

import anyio
import fastapi.routing
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from fastapi.sse import ServerSentEvent as FastAPIEvent
from fastapi.utils import create_model_field

from sse_core import ServerSentEvent as CoreEvent

from ._response import EventSourceResponse
from ._stream import DEFAULT_SETTINGS, SCOPE_KEY, EventStream

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

_REQUEST_PARAMETER: Final = "_sse_fastapi_binding_request"
_RESPONSE_PARAMETER: Final = "_sse_fastapi_binding_response"
_ORIGINAL_ENDPOINT: Final = "_sse_fastapi_binding_endpoint"

# The return annotations that declare what a generator endpoint yields, as FastAPI reads them.
_ITERABLE_ORIGINS: Final = frozenset(
    {
        collections.abc.AsyncIterable,
        collections.abc.AsyncIterator,
        collections.abc.AsyncGenerator,
        collections.abc.Iterable,
        collections.abc.Iterator,
        collections.abc.Generator,
    }
)

EndpointKind = Literal["async generator", "generator", "push"]


@dataclass(frozen=True)
class _StreamEndpoint:
    """A user's endpoint that streams, and what it streams."""

    endpoint: Callable[..., Any]
    kind: EndpointKind
    item_type: Any
    signature: inspect.Signature


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
        endpoint = getattr(endpoint, _ORIGINAL_ENDPOINT, endpoint)
        streaming = _stream_endpoint(endpoint, kwargs.get("response_class"))
        self.streams_events = streaming is not None
        if streaming is None:
            super().__init__(path, endpoint, **kwargs)
            return
        status_code = kwargs.get("status_code") or 200
        super().__init__(path, _adapt(streaming, status_code), **kwargs)
        if streaming.item_type is not None:
            self.stream_item_type = streaming.item_type
            self.stream_item_field = create_model_field(
                name="StreamItem_" + self.unique_id,
                type_=streaming.item_type,
                mode="serialization",
            )
        _document_as_event_stream(self)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # FastAPI (0.160+) serves a route of an included router through a copy of the route's
        # settings (its "effective route context"), which it builds from the endpoint, an
        # adapted coroutine here, and which therefore does not know it streams; FastAPI calls
        # this method while that copy is current, so this is where the copy is told.
        if self.streams_events:
            context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
            context = None if context_var is None else context_var.get()
            if context is not None and getattr(context, "original_route", None) is self:
                _document_as_event_stream(context)
        return super().get_route_handler()


def _document_as_event_stream(route: Any) -> None:
    """Marks `route` (or FastAPI's copy of it) as a stream for FastAPI's OpenAPI generator,
    which then documents the text/event-stream media type with the items' schema."""
    route.is_sse_stream = True


def enable_event_streams(app: FastAPI) -> None:
    """Streams the app's event-stream endpoints with this package; call it before adding routes.

    It makes `EventStreamRoute` the route class of `app`'s routes, and labels the app's OpenAPI
    document 3.2.0: an event stream is documented with the ``itemSchema`` keyword, which OpenAPI
    3.2 introduced, and a document that uses it must say 3.2 to be valid.

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
        and _stream_endpoint(route.endpoint, route.response_class) is not None
    ]
    if early:
        raise RuntimeError(
            f"event-stream routes were added before enable_event_streams(app): {early}; "
            "call it right after creating the app"
        )
    app.router.route_class = EventStreamRoute
    app.openapi_version = "3.2.0"
    app.openapi_schema = None  # a document generated before would say 3.1.0


def _stream_endpoint(endpoint: Callable[..., Any], response_class: Any) -> _StreamEndpoint | None:
    """What `endpoint` streams, or None if it is not an event-stream endpoint."""
    if not (isinstance(response_class, type) and issubclass(response_class, EventSourceResponse)):
        return None
    kind: EndpointKind
    if inspect.isasyncgenfunction(endpoint):
        kind = "async generator"
    elif inspect.isgeneratorfunction(endpoint):
        kind = "generator"
    elif inspect.iscoroutinefunction(endpoint):
        kind = "push"
    else:
        return None
    signature = _resolved_signature(endpoint)
    if kind == "push":
        stream_types = [
            annotation
            for parameter in signature.parameters.values()
            if (annotation := _stream_annotation(parameter.annotation)) is not None
        ]
        if not stream_types:
            return None  # an endpoint that builds and returns its own response
        item_type = _item_type(typing.get_args(stream_types[0]))
    else:
        returned = signature.return_annotation
        if isinstance(returned, str):
            raise TypeError(
                f"the return annotation {returned!r} of {endpoint.__qualname__} names something "
                "that is not defined when the module runs (imported under TYPE_CHECKING?); the "
                "stream's item type is read from it, so import those names at runtime"
            )
        declared = typing.get_origin(returned) in _ITERABLE_ORIGINS
        item_type = _item_type(typing.get_args(returned) if declared else ())
    return _StreamEndpoint(endpoint, kind, item_type, signature)


def _resolved_signature(endpoint: Callable[..., Any]) -> inspect.Signature:
    """The endpoint's signature with string annotations (``from __future__ import
    annotations``) resolved in the endpoint's own module, one by one: a name imported only
    under ``TYPE_CHECKING`` (in a return annotation, say) stays a string and spoils nothing
    else. FastAPI would resolve them in the adapted endpoint's module, which is this one."""
    signature = inspect.signature(endpoint)
    namespace = getattr(endpoint, "__globals__", {})

    def resolve(annotation: Any) -> Any:
        if not isinstance(annotation, str):
            return annotation
        try:
            return eval(annotation, namespace)  # what typing.get_type_hints does, per name
        except NameError:
            return annotation

    parameters = [
        parameter.replace(annotation=resolve(parameter.annotation))
        for parameter in signature.parameters.values()
    ]
    return signature.replace(
        parameters=parameters, return_annotation=resolve(signature.return_annotation)
    )


def _stream_annotation(annotation: Any) -> Any:
    """``EventStream`` or ``EventStream[T]`` if `annotation` declares one (possibly inside
    ``Annotated``), else None."""
    if typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if annotation is EventStream or typing.get_origin(annotation) is EventStream:
        return annotation
    return None


def _item_type(type_arguments: tuple[Any, ...]) -> Any:
    """The type that plain items must validate as, from a stream's type arguments; None when
    there is nothing to validate (no type, `Any`, or only untyped event classes)."""
    if not type_arguments:
        return None
    declared = type_arguments[0]
    is_union = typing.get_origin(declared) in (Union, types.UnionType)
    members = typing.get_args(declared) if is_union else (declared,)
    data_types = [kind for member in members if (kind := _event_data_type(member)) is not _NOT_DATA]
    if not data_types or any(kind in (Any, object) for kind in data_types):
        return None
    if data_types == list(members):
        return declared  # no event classes among them
    unique = list(dict.fromkeys(data_types))
    return unique[0] if len(unique) == 1 else Union[tuple(unique)]  # noqa: UP007 (a union of a runtime tuple)


_NOT_DATA: Final = object()


def _event_data_type(candidate: Any) -> Any:
    """What the data of `candidate` items is: the type itself for plain items, the data type
    of a typed event model (``EventModel[Tick]`` carries a `Tick`), or `_NOT_DATA` for event
    classes whose data is not typed (they are written as the events they describe)."""
    if not isinstance(candidate, type):
        return candidate
    if issubclass(candidate, CoreEvent | FastAPIEvent):
        return _NOT_DATA
    if hasattr(candidate, "to_server_sent_event"):
        fields = getattr(candidate, "model_fields", {})
        data_field = fields.get("data")
        data_type = None if data_field is None else data_field.annotation
        if data_type is None or isinstance(data_type, typing.TypeVar):
            return _NOT_DATA  # EventModel without a type argument
        return data_type
    return candidate


def _parameter_of_type(parameters: list[inspect.Parameter], kind: type) -> str | None:
    for parameter in parameters:
        annotation = parameter.annotation
        if isinstance(annotation, type) and issubclass(annotation, kind):
            return parameter.name
    return None


def _adapt(streaming: _StreamEndpoint, status_code: int) -> Callable[..., Awaitable[Response]]:
    """An ``async def`` endpoint with the same parameters as the user's (plus the request and
    FastAPI's temporal response) that returns the stream's response."""
    endpoint, kind, item_type = streaming.endpoint, streaming.kind, streaming.item_type

    # FastAPI passes the request and its temporal response to one parameter each: reuse the
    # endpoint's own, or add hidden ones.
    parameters = list(streaming.signature.parameters.values())
    request_name = _parameter_of_type(parameters, Request) or _REQUEST_PARAMETER
    response_name = _parameter_of_type(parameters, Response) or _RESPONSE_PARAMETER
    hidden = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        for name, annotation in ((_REQUEST_PARAMETER, Request), (_RESPONSE_PARAMETER, Response))
        if name in (request_name, response_name)
    ]

    async def event_stream_endpoint(**values: Any) -> Response:
        request: Request = values[request_name]
        temporal: Response = values[response_name]
        values.pop(_REQUEST_PARAMETER, None)
        values.pop(_RESPONSE_PARAMETER, None)
        stream: EventStream[Any] | None = request.scope.get(SCOPE_KEY)
        if kind == "push" and stream is None:  # pragma: no cover (FastAPI solved the parameter)
            raise RuntimeError("a push endpoint's EventStream parameter was not solved")
        settings = DEFAULT_SETTINGS if stream is None else stream.settings
        data_sender = None
        if kind == "push":
            assert stream is not None
            sender, content = anyio.create_memory_object_stream[bytes](settings.max_pending)

            async def data_sender() -> None:
                await endpoint(**values)
                stream.close()  # the endpoint returned: the stream ends once its events are out

        else:
            content = endpoint(**values)
            sender = None
        response = EventSourceResponse(
            content,
            status_code=status_code,
            ping=settings.ping,
            data_sender_callable=data_sender,
            send_timeout=settings.send_timeout,
            client_close_handler_callable=None if stream is None else stream._on_disconnect,
            shutdown_event=None if stream is None else stream._shutting_down,
            shutdown_grace_period=settings.shutdown_grace_period,
            cleanup_timeout=settings.cleanup_timeout,
            retry=settings.retry,
            hold_headers=settings.hold_headers,
            item_type=item_type,
        )
        response.push_sender = sender
        if stream is not None:
            stream._bind(response.encoder, sender)
        response.temporal_response = temporal
        return response

    var_keyword = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    parameters = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
    # No __wrapped__: FastAPI would look through it and see a generator function again.
    event_stream_endpoint.__signature__ = streaming.signature.replace(  # type: ignore[attr-defined]
        parameters=[*parameters, *hidden, *var_keyword], return_annotation=EventSourceResponse
    )
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(event_stream_endpoint, attribute, getattr(endpoint, attribute, None))
    setattr(event_stream_endpoint, _ORIGINAL_ENDPOINT, endpoint)
    return event_stream_endpoint
