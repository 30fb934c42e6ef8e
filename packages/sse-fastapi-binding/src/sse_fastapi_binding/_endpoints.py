"""Reading an endpoint: is it an event stream, of which kind, and what do its items carry.

Everything here is read from the endpoint's signature and annotations, once, when its route is
created: the kind (a generator, async or not, or a push endpoint that takes an `EventStream`),
the type its plain items must validate as, and whether some of its items are event objects
whose data is text sent as it is.
"""

from __future__ import annotations

__all__ = ["EndpointKind", "StreamEndpoint", "stream_endpoint"]

import collections.abc
import inspect
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Union

from fastapi.sse import ServerSentEvent as FastAPIEvent

from sse_core import ServerSentEvent as CoreEvent

from ._response import EventSourceResponse
from ._stream import EventStream

if TYPE_CHECKING:
    from collections.abc import Callable

EndpointKind = Literal["async generator", "generator", "push"]

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


@dataclass(frozen=True)
class StreamEndpoint:
    """A user's endpoint that streams, and what it streams.

    - `item_type`: the type plain items validate as (None: nothing to validate).
    - `sends_text`: some declared items are event objects whose data is text, written as it
      is rather than as the JSON of an `item_type`.
    - `signature`: the endpoint's signature, its string annotations resolved.
    """

    endpoint: Callable[..., Any]
    kind: EndpointKind
    item_type: Any
    sends_text: bool
    signature: inspect.Signature


def stream_endpoint(endpoint: Callable[..., Any], response_class: Any) -> StreamEndpoint | None:
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
        type_arguments = typing.get_args(stream_types[0])
    else:
        returned = signature.return_annotation
        if isinstance(returned, str):
            raise TypeError(
                f"the return annotation {returned!r} of {endpoint.__qualname__} names something "
                "that is not defined when the module runs (imported under TYPE_CHECKING?); the "
                "stream's item type is read from it, so import those names at runtime"
            )
        declared = typing.get_origin(returned) in _ITERABLE_ORIGINS
        type_arguments = typing.get_args(returned) if declared else ()
    item_type, sends_text = _item_type(type_arguments)
    return StreamEndpoint(endpoint, kind, item_type, sends_text, signature)


def _resolved_signature(endpoint: Callable[..., Any]) -> inspect.Signature:
    """The endpoint's signature with string annotations (``from __future__ import
    annotations``) resolved in the endpoint's own module, one by one: a name imported only
    under ``TYPE_CHECKING`` (in a return annotation, say) stays a string and spoils nothing
    else. FastAPI would resolve them in the adapted endpoint's module, which is not the user's."""
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


def _item_type(type_arguments: tuple[Any, ...]) -> tuple[Any, bool]:
    """From a stream's type arguments: the type that plain items must validate as (None when
    there is nothing to validate: no type, `Any`, or only untyped event classes), and whether
    some items are events whose data is text, sent as it is."""
    if not type_arguments:
        return None, False
    declared = type_arguments[0]
    is_union = typing.get_origin(declared) in (Union, types.UnionType)
    members = typing.get_args(declared) if is_union else (declared,)
    read = [_member_data(member) for member in members]
    sends_text = any(text for _, text in read)
    data_types = [kind for kind, _ in read if kind is not _UNTYPED]
    if not data_types or any(kind in (Any, object) for kind in data_types):
        return None, sends_text
    if data_types == list(members):
        return declared, sends_text  # no event classes among them
    unique = list(dict.fromkeys(data_types))
    if len(unique) == 1:
        return unique[0], sends_text
    return Union[tuple(unique)], sends_text  # noqa: UP007 (a union of a runtime tuple)


_UNTYPED: Final = object()


def _member_data(member: Any) -> tuple[Any, bool]:
    """What the data of `member` items is, and whether it goes out as text.

    A plain item type is its own data type, sent as JSON. An event class is written as the
    event it describes: a typed event model (``EventModel[Tick]``) carries data of its type
    argument, as JSON (as text when that type is `str`); other event classes carry text of no
    declared type (`_UNTYPED`).
    """
    if not isinstance(member, type):
        return member, False
    if issubclass(member, CoreEvent | FastAPIEvent):
        return _UNTYPED, True
    if hasattr(member, "to_server_sent_event"):
        fields = getattr(member, "model_fields", {})
        data_field = fields.get("data")
        data_type = None if data_field is None else data_field.annotation
        if data_type is None or isinstance(data_type, typing.TypeVar):
            return _UNTYPED, True  # EventModel without a type argument, or another event class
        return data_type, data_type is str
    return member, False
