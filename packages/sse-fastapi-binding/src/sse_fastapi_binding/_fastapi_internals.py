"""Every use this package makes of FastAPI's private or undocumented parts, and nothing else.

The rest of the package uses what FastAPI documents: `APIRoute` subclasses and their
``get_route_handler``, ``app.router.route_class``, ``openapi_extra``, replacing ``app.openapi``,
``Depends``, the ``Request`` and ``Response`` parameters, returning a ``Response``, and
``fastapi.sse.ServerSentEvent``. (It also reads an `APIRoute`'s ``endpoint``, ``path`` and
``response_class``, which hold the constructor's arguments under their own names.) What follows
is not documented; each item says what is relied on, since which FastAPI version, and what
degrades if a FastAPI release changes it. CI tests the lowest FastAPI the package declares
(0.135.0, which added ``fastapi.sse``) and the newest one on the index.

1. ``APIRoute.is_sse_stream`` (0.135): FastAPI's OpenAPI generator documents a route whose
   attribute is true as ``text/event-stream`` with an OpenAPI 3.2 ``itemSchema``. FastAPI sets
   it only for generator endpoints, and a stream route hands it an adapted coroutine, so
   `declare_event_stream` sets it. If it changes: streams are documented as a plain string
   body, without the item schema; serving is unaffected.
2. ``APIRoute.stream_item_type`` and ``APIRoute.stream_item_field`` (0.135), the second built
   by ``fastapi.utils.create_model_field`` and named after ``APIRoute.unique_id``: the type of
   an event's data, which the generator writes as the data's ``contentSchema`` and whose models
   it adds to ``components``. If it changes: the item schema no longer says what the data holds
   and a `RuntimeWarning` says so when the route is created; validation is unaffected, as this
   package validates items itself.
3. ``fastapi.routing._effective_route_context_var``, and ``original_route`` on its value (0.160):
   FastAPI serves and documents a route of an included router through a per-inclusion copy of
   the route's state, rebuilt from the endpoint (an adapted coroutine here) and current in that
   variable while it calls ``get_route_handler``. `declare_included_copy` marks that copy as a
   stream (item 1; FastAPI carries item 2 over itself). Before 0.160 FastAPI copies the route
   through its class instead, and there is nothing to do. If it changes: streams of included
   routers are documented as item 1 says; serving is unaffected.
4. ``scope["route"]``, set by ``APIRoute.matches`` (0.135): `route_of` finds the route that
   serves a response, so that a generator endpoint left on FastAPI's own `APIRoute` fails with
   a hint instead of streaming without this package. If it changes: that mistake goes
   undetected, and such an endpoint streams through FastAPI's pipeline instead.
5. ``ResponseValidationError(errors, body=...)`` (0.135): the exception FastAPI raises for a
   response that fails its model, built here for an item that fails the stream's type. Its
   class is public; its constructor is not documented. If it stops taking ``body``, the error
   is built without it (it still carries pydantic's errors).
6. FastAPI reads an endpoint's parameters with `inspect.signature`, which honours
   ``__signature__``, and looks through ``__wrapped__`` to tell a generator endpoint (0.135):
   `present_signature` gives the adapted endpoint the user's parameters that way, without a
   ``__wrapped__`` that would lead FastAPI back to the generator. This is the one item that
   serving rests on: if FastAPI read parameters some other way, stream endpoints would lose
   their parameters and dependencies, and every route test would fail against that release.
"""

from __future__ import annotations

__all__ = [
    "declare_event_stream",
    "declare_included_copy",
    "present_signature",
    "response_validation_error",
    "route_of",
]

import warnings
from typing import TYPE_CHECKING, Any

import fastapi.routing
import fastapi.utils
from fastapi.exceptions import ResponseValidationError

if TYPE_CHECKING:
    import inspect
    from collections.abc import Callable, Sequence

    from fastapi.routing import APIRoute
    from starlette.types import Scope


def declare_event_stream(route: APIRoute, item_type: Any) -> None:
    """Tells FastAPI's OpenAPI generator that `route` streams events whose data is an
    `item_type` (None: data of no declared type). Items 1 and 2.

    Should FastAPI's helper be gone or take other arguments, the route is still created and
    serves as before, documented without the item type, and a `RuntimeWarning` says why.
    """
    route.is_sse_stream = True
    if item_type is None:
        return
    try:
        field = fastapi.utils.create_model_field(
            name="StreamItem_" + route.unique_id, type_=item_type, mode="serialization"
        )
    except (AttributeError, TypeError) as exc:
        warnings.warn(
            f"sse_fastapi_binding could not describe the items of {route.path} to FastAPI "
            f"{fastapi.__version__} ({type(exc).__name__}: {exc}); the stream works, but its "
            "OpenAPI item schema does not say what its data holds",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    route.stream_item_type = item_type
    route.stream_item_field = field


def declare_included_copy(route: APIRoute) -> None:
    """Marks FastAPI's per-inclusion copy of `route`, if one is being built, as a stream.
    Called from ``get_route_handler``, while the copy is current. Item 3."""
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    context = None if context_var is None else context_var.get()
    if context is not None and getattr(context, "original_route", None) is route:
        context.is_sse_stream = True


def route_of(scope: Scope) -> object:
    """The route FastAPI matched for `scope` (None if none is recorded). Item 4."""
    return scope.get("route")


def response_validation_error(errors: Sequence[Any], body: Any) -> ResponseValidationError:
    """FastAPI's error for a response (here: an item) that fails its declared type. Item 5."""
    try:
        return ResponseValidationError(errors, body=body)
    except TypeError:  # a constructor without `body`: the errors are what matters
        return ResponseValidationError(errors)


def present_signature(endpoint: Callable[..., Any], signature: inspect.Signature) -> None:
    """Makes FastAPI solve `signature`'s parameters for `endpoint`. Item 6."""
    endpoint.__signature__ = signature  # type: ignore[attr-defined]
    # No __wrapped__: FastAPI would look through it and see a generator function again.
    assert not hasattr(endpoint, "__wrapped__"), "an adapted endpoint must not wrap another"
