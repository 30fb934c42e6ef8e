"""The endpoint a stream route hands FastAPI: the user's endpoint, adapted to return a response.

FastAPI solves the adapted endpoint's parameters and dependencies as it would the user's (the
adapted one has the same signature, plus the request and FastAPI's temporal response), and
sends the `RouteResponse` it returns unchanged. Dependencies with ``yield`` close after the
response, that is after the stream, on every way it can end.
"""

from __future__ import annotations

__all__ = ["ORIGINAL_ENDPOINT", "RouteResponse", "adapt"]

import inspect
from typing import TYPE_CHECKING, Any, Final

import anyio
from fastapi import Request, Response

from ._fastapi_internals import present_signature
from ._items import item_encoder
from ._response import EventSourceResponse
from ._stream import DEFAULT_SETTINGS, SCOPE_KEY, EventStream, StreamSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from anyio.streams.memory import MemoryObjectSendStream
    from starlette.types import Message, Receive, Scope, Send

    from sse_starlette_binding import Content

    from ._endpoints import StreamEndpoint

ORIGINAL_ENDPOINT: Final = "_sse_fastapi_binding_endpoint"
"""The attribute of an adapted endpoint that holds the user's."""

_REQUEST_PARAMETER: Final = "_sse_fastapi_binding_request"
_RESPONSE_PARAMETER: Final = "_sse_fastapi_binding_response"


class RouteResponse(EventSourceResponse):
    """The response of a stream route, built in one step from the request's stream.

    `EventSourceResponse` with the stream's settings, its disconnect and shutdown signals, and
    two things of the route's own: FastAPI's temporal response, whose status and headers (set
    by the endpoint or its dependencies before the first event) are sent with the stream's, and
    the sending end of a push endpoint's events, closed when the response is done so that tasks
    still pushing learn that the stream ended.
    """

    def __init__(
        self,
        content: Content,
        *,
        status_code: int,
        item_type: Any,
        settings: StreamSettings,
        stream: EventStream[Any] | None,
        temporal_response: Response,
        data_sender: Callable[[], Awaitable[None]] | None = None,
        push_sender: MemoryObjectSendStream[bytes] | None = None,
    ) -> None:
        super().__init__(
            content,
            status_code,
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
        self._temporal_response: Response | None = temporal_response
        self._push_sender = push_sender

    def start_message(self, prefix: str = "") -> Message:
        temporal = self._temporal_response
        if temporal is not None:
            self._temporal_response = None
            if temporal.status_code:
                self.status_code = temporal.status_code
            self.raw_headers.extend(temporal.headers.raw)
        return super().start_message(prefix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._push_sender is not None:
                self._push_sender.close()


def adapt(streaming: StreamEndpoint, status_code: int) -> Callable[..., Awaitable[Response]]:
    """An ``async def`` endpoint with the same parameters as the user's (plus the request and
    FastAPI's temporal response) that returns the stream's response."""
    endpoint, kind, item_type = streaming.endpoint, streaming.kind, streaming.item_type
    encoder = item_encoder(item_type)

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
        settings = DEFAULT_SETTINGS if stream is None else stream.settings
        if kind != "push":
            return RouteResponse(
                endpoint(**values),
                status_code=status_code,
                item_type=item_type,
                settings=settings,
                stream=stream,
                temporal_response=temporal,
            )
        if stream is None:  # pragma: no cover (FastAPI solved the parameter)
            raise RuntimeError("a push endpoint's EventStream parameter was not solved")
        sender, receiver = anyio.create_memory_object_stream[bytes](settings.max_pending)
        stream._bind(encoder, sender)

        async def data_sender() -> None:
            await endpoint(**values)
            stream.close()  # the endpoint returned: the stream ends once its events are out

        return RouteResponse(
            receiver,
            status_code=status_code,
            item_type=item_type,
            settings=settings,
            stream=stream,
            temporal_response=temporal,
            data_sender=data_sender,
            push_sender=sender,
        )

    var_keyword = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    parameters = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
    present_signature(
        event_stream_endpoint,
        streaming.signature.replace(
            parameters=[*parameters, *hidden, *var_keyword], return_annotation=EventSourceResponse
        ),
    )
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(event_stream_endpoint, attribute, getattr(endpoint, attribute, None))
    setattr(event_stream_endpoint, ORIGINAL_ENDPOINT, endpoint)
    return event_stream_endpoint


def _parameter_of_type(parameters: list[inspect.Parameter], kind: type) -> str | None:
    for parameter in parameters:
        annotation = parameter.annotation
        if isinstance(annotation, type) and issubclass(annotation, kind):
            return parameter.name
    return None
