"""`Stream`, `StreamSettings` and their defaults: declared once, refused where they are wrong."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
from fastapi import params

from sse_fastapi_binding import Stream, StreamSettings
from sse_starlette_binding import EventSourceResponse as StarletteEventSourceResponse


def test_streams_defaults_are_the_settings_defaults() -> None:
    defaults = {
        name: parameter.default for name, parameter in inspect.signature(Stream).parameters.items()
    }
    fields = {field.name: field.default for field in dataclasses.fields(StreamSettings)}
    assert defaults == fields


def test_ping_and_cleanup_defaults_are_the_starlette_responses() -> None:
    settings = StreamSettings()
    assert settings.ping == StarletteEventSourceResponse.DEFAULT_PING_INTERVAL == 15
    assert settings.cleanup_timeout == StarletteEventSourceResponse.DEFAULT_CLEANUP_TIMEOUT == 30


def test_stream_declares_a_dependency_on_its_settings() -> None:
    marker = Stream(ping=5, retry=3000)
    assert isinstance(marker, params.Depends)
    assert marker.dependency == StreamSettings(ping=5, retry=3000)


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"ping": -1}, ValueError, "ping must be >= 0"),
        ({"ping": "15"}, TypeError, "ping must be a number"),
        ({"send_timeout": float("nan")}, ValueError, "send_timeout must be >= 0"),
        ({"retry": -5}, ValueError, "retry"),
        ({"retry": 1.5}, TypeError, "retry"),
        ({"shutdown_grace_period": -1}, ValueError, "shutdown_grace_period"),
        ({"cleanup_timeout": True}, TypeError, "cleanup_timeout must be a number"),
        ({"hold_headers": "yes"}, TypeError, "hold_headers must be a bool"),
        ({"max_pending": 0}, ValueError, "max_pending must be >= 1"),
        ({"max_pending": 2.0}, TypeError, "max_pending must be an int"),
    ],
)
def test_invalid_settings_are_refused_where_they_are_declared(
    settings: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Stream(**settings)
    with pytest.raises(error, match=message):
        StreamSettings(**settings)
